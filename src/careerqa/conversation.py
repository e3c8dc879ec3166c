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


def context_question(question: str, history: list[Turn]) -> str | None:
    """The earlier user question a follow-up refers to, or None for a standalone question."""
    if not history or not is_follow_up(question):
        return None
    for turn in reversed(history):
        if turn.role == "user" and turn.content.strip():
            return turn.content.strip()
    return None


def previous_answer(history: list[Turn]) -> str:
    """The assistant's last reply, so a follow-up is not answered with the same sentences."""
    for turn in reversed(history):
        if turn.role == "assistant":
            return turn.content
    return ""
