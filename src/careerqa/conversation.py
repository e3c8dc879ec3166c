"""Follow-up questions: use the conversation so far to know what a question refers to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexical import terms

_FOLLOW_UP_START = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about|same)\b", re.I)
_REFERENCE = re.compile(
    r"\b(?:they|them|their|theirs|it|its|this|that|these|those|he|she|his|her|one|ones|"
    r"there|later|instead|else|more)\b",
    re.I,
)


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" | "assistant"
    content: str


def is_follow_up(question: str) -> bool:
    """Does the question lean on an earlier one (starts with "and…", refers back, or is bare)?"""
    return bool(
        _FOLLOW_UP_START.match(question) or _REFERENCE.search(question) or len(terms(question)) <= 1
    )


def search_query(question: str, history: list[Turn]) -> str:
    """The text to retrieve with: the question, joined to the last user question it follows."""
    if not history or not is_follow_up(question):
        return question
    for turn in reversed(history):
        if turn.role == "user" and turn.content.strip():
            return f"{turn.content.strip()} {question}"
    return question
