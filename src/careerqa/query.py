"""What a question asks: its validated text, the texts to embed, the vector to search with.

A question becomes a QueryPlan (validated, follow-up context found, the texts to
embed listed); once those texts are embedded, the plan turns into a Query: the
search vector (blended with the earlier question for a follow-up), the text for
lexical search, and how much of the question the corpus' vocabulary keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .conversation import Turn, context_question, previous_answer
from .errors import QuestionError
from .lexical import LexicalIndex
from .shapes import HEDGE
from .vocabulary import Vocabulary

MAX_QUESTION_CHARS = 1000
# What str.strip() trims (str.isspace), spelled out so the API schema can say the same.
BLANKS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Code points that are not text: lone UTF-16 surrogates (JSON can carry them as
# "\ud800"; no encoder can) and Unicode's non-characters (U+FDD0–U+FDEF and the last
# two of every plane).
_NOT_TEXT_RANGES = (
    (0xD800, 0xDFFF),
    (0xFDD0, 0xFDEF),
    *((p * 0x10000 + 0xFFFE, p * 0x10000 + 0xFFFF) for p in range(17)),
)
_NOT_TEXT = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _NOT_TEXT_RANGES) + "]")


def _pattern_char(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


# The non-characters for a JSON Schema pattern's character class (`[^…]`), so the API
# schema says what is refused and a client or fuzzer never sends it as valid. Not the
# surrogates: a regex engine that reads code points (Rust's, ECMAScript's with the `u`
# flag) refuses a class naming them, and a JSON string can only carry them escaped.
NOT_TEXT_CLASS = "".join(
    f"{_pattern_char(a)}-{_pattern_char(b)}" for a, b in _NOT_TEXT_RANGES if a > 0xDFFF
)
# How much the earlier question counts in a follow-up's query vector.
FOLLOW_UP_CONTEXT_WEIGHT = 0.7


def check_text(text: str, what: str) -> None:
    """QuestionError when `text` holds a code point that is not a character."""
    bad = _NOT_TEXT.search(text)
    if bad:
        raise QuestionError(f"{what} contains U+{ord(bad.group()):04X}, which is not a character")


def validate_question(question: str) -> str:
    """The trimmed question, or QuestionError saying what is wrong with it."""
    if not isinstance(question, str):
        raise QuestionError("question must be a string")
    # The limit counts what was sent, as the API schema's maxLength does.
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    trimmed = question.strip(BLANKS)
    if not trimmed:
        raise QuestionError("question is empty")
    if "\x00" in trimmed:
        raise QuestionError("question contains a NUL character")
    check_text(trimmed, "question")
    return trimmed


@dataclass(frozen=True)
class Query:
    """What retrieval and composing need: the question, its search vector and text."""

    question: str
    vector: np.ndarray
    search_text: str  # for lexical search: a follow-up carries its earlier question
    kept_meaning: float  # what is asked, with and without unknown words: cosine (1.0: none)
    already_said: str  # a follow-up's previous reply, not to be repeated
    expanded: str  # the question with the abbreviations the articles explain written out
    unknown_names: tuple[str, ...]  # names in the question no article uses


@dataclass(frozen=True)
class QueryPlan:
    """A validated question and the texts to embed for it, in one batch."""

    question: str
    history: list[Turn]
    context: str | None  # the earlier question a follow-up refers to
    asked: str | None  # the question without the corpus' topic words, when it has unknown ones
    reduced: str | None  # `asked` without the words the corpus never uses
    texts: list[str]
    expanded: str
    unknown_names: tuple[str, ...]

    @classmethod
    def make(
        cls, question: str, history: list[Turn], lexical: LexicalIndex, vocabulary: Vocabulary
    ) -> QueryPlan:
        """Validate the question and list what to embed: itself, what it asks with and
        without unknown words, its context."""
        question = validate_question(question)
        context = context_question(question, history)
        expanded = _without(vocabulary.expand(vocabulary.respell(question)))
        texts = [expanded]
        # Unknown words are never topic words: `focus` keeps them all, so `reduced` is
        # None exactly when the question has none.
        focus = lexical.without_topic_words(expanded)
        reduced = lexical.without_unknown_words(focus)
        asked = None if reduced is None else focus  # every word known: all meaning kept
        if asked is not None:
            texts += [asked, reduced] if reduced else [asked]
        if context:
            texts.append(vocabulary.expand(vocabulary.respell(context)))
        names = tuple(vocabulary.unknown_names(question))
        return cls(question, history, context, asked, reduced, texts, expanded, names)

    def query(self, vectors: np.ndarray) -> Query:
        """The Query, given the vectors of `texts` in order."""
        vector = vectors[0]
        asked = vectors[1] if self.asked is not None else None
        # An empty reduced question (no word the corpus knows) keeps no meaning at all.
        reduced = vectors[2] if self.reduced else None
        search_text = self.expanded
        if self.context:
            # The follow-up leads; the earlier question says what it is about.
            context_vector = FOLLOW_UP_CONTEXT_WEIGHT * vectors[-1]
            vector = _unit(vector + context_vector)
            if asked is not None:
                asked = _unit(asked + context_vector)
            if reduced is not None:
                reduced = _unit(reduced + context_vector)
            search_text = f"{self.texts[-1]} {self.expanded}"
        kept_meaning = 1.0 if self.asked is None else 0.0
        if asked is not None and reduced is not None:
            kept_meaning = float(reduced @ asked)
        already_said = previous_answer(self.history) if self.context else ""
        return Query(
            self.question,
            vector,
            search_text,
            kept_meaning,
            already_said,
            self.expanded,
            self.unknown_names,
        )


# "I don't have a degree", "with no degree": what the articles write "without a degree".
_LACKING = re.compile(
    r"\b(?:(?:do|did|does)(?: not|n[’']?t)|never|have(?: not|n[’']?t))\s+(?:have|had|got|get|hold|"
    r"earn(?:ed)?|finish(?:ed)?|complete(?:d)?)\s+(?:a|an|any)\b"
    r"|\b(?:with |have |has )?no\b(?=\s+(?:\w+\s+)?(?:degree|diploma|experience|background)\b)",
    re.I,
)


# "what even is…", "what exactly does…": a hedge after the question word says nothing of
# what is asked, yet lexical search matches it in passages ("Even if the position…").
_HEDGE = re.compile(rf"\b(what|who|how|where|why|which)\s+{HEDGE}\b", re.I)


def _without(question: str) -> str:
    """The question with a lack said the way the articles say it ("without a degree"),
    and without a hedge after its question word ("what even is" → "what is")."""
    return _HEDGE.sub(r"\1", _LACKING.sub("without a", question))


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)
