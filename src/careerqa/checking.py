"""Checking a generated answer against the passages it cites.

A model's answer is split into claims (sentences, or `- item` lines). For each:

- `[n]` markers that name no passage given to the model are removed;
- a claim is supported by a passage when every figure it states (numbers, money,
  percentages) appears in the passage, and it is close to the passage in meaning
  (cosine similarity of the claim to the passage or its best sentence) and in words
  (the share of the claim's content words the passage uses), both above thresholds
  calibrated on the question sets (README, "Generated answers");
- a claim citing passages is checked against those; a claim citing none is checked
  against every passage and, when one supports it, gets that passage's `[n]`;
- unsupported claims are dropped from the answer and listed with the reason.

The checked text keeps only supported claims, each ending with the markers of the
passages that support it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .lexical import terms
from .shapes import figures

# Fitted by `python bench/calibrate_checker.py` on claims made from the question sets
# (README, "Generated answers"): out-of-fold, 89 % of supported claims kept and 94 % of
# unsupported ones dropped. On same-topic claims word overlap separates, similarity
# hardly does, hence its low floor.
MIN_SIMILARITY = 0.15
MIN_OVERLAP = 0.7
# A claim needs this many content words to be checked at all: "Sure!" is not a claim.
MIN_WORDS = 2

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9$£€-])")
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SAME_QUOTES = str.maketrans("‘’“”", "''\"\"")


@dataclass(frozen=True)
class Passage:
    """A passage the model was given: its number, text, vector and sentence vectors."""

    n: int
    text: str
    header: str  # "title — heading", as the model saw it
    figures: frozenset[str]  # what `figures` finds in the text, found once
    vector: np.ndarray
    sentence_vectors: np.ndarray
    words: frozenset[str]


@dataclass(frozen=True)
class Claim:
    """A sentence or list line of the answer, without its markers."""

    text: str
    cited: tuple[int, ...]  # valid passage numbers it cites
    item: bool  # a "- item" line

    @cached_property
    def words(self) -> frozenset[str]:
        """Its content words, found once for all the passages it is measured against."""
        return frozenset(terms(self.text))

    @cached_property
    def figures(self) -> frozenset[str]:
        return frozenset(figures(self.text))


@dataclass(frozen=True)
class Verdict:
    """A claim and the passages that support it (none: unsupported, with why)."""

    claim: Claim
    supported_by: tuple[int, ...]
    reason: str = ""


def claims(text: str, numbers: set[int], *, cut: bool = False) -> list[Claim]:
    """The answer's claims, each once; markers naming no passage in `numbers` are dropped.

    A last sentence without its full stop was cut off (the model ran out of tokens)
    and is left out, as are repeats; with `cut` (the model said it stopped at its
    token limit) the last line or sentence is left out whatever its end.
    """
    out: list[Claim] = []
    seen: set[str] = set()
    text = _without_cut_off(text.replace("\r", "").strip(), cut)
    for line in text.split("\n"):
        item = bool(_ITEM.match(line))
        body = _ITEM.sub("", line).strip()
        pieces = [body] if item else _SENTENCE_END.split(body)
        for piece in pieces:
            cited: list[int] = []
            for group in _MARKERS.findall(piece):
                cited += [int(n) for n in group.split(",") if int(n) in numbers]
            plain = " ".join(_MARKERS.sub("", piece).split())
            key = plain.lower().translate(_SAME_QUOTES)  # ’ and ' say the same
            if plain and key not in seen:
                seen.add(key)
                out.append(Claim(plain, tuple(dict.fromkeys(cited)), item))
    return out


def _without_cut_off(text: str, cut: bool) -> str:
    """The text without a last sentence the model did not finish."""
    lines = text.split("\n")
    last = lines[-1]
    plain = _MARKERS.sub("", last).rstrip()
    if cut and _ITEM.match(last):
        return "\n".join(lines[:-1])
    if not cut and (_ITEM.match(last) or not plain or plain[-1] in ".!?:)\"'”"):
        return text
    lines[-1] = " ".join(_SENTENCE_END.split(last)[:-1])
    return "\n".join(lines)


@dataclass(frozen=True)
class Measure:
    """How close a claim is to one passage: what the thresholds are applied to."""

    n: int
    missing: frozenset[str]  # figures the claim states and the passage does not
    similarity: float  # cosine to the passage or its best sentence, whichever is higher
    overlap: float  # share of the claim's content words the passage uses

    def supports(self, min_similarity: float, min_overlap: float) -> bool:
        return (
            not self.missing and self.similarity >= min_similarity and self.overlap >= min_overlap
        )

    def why_not(self) -> str:
        if self.missing:
            return f"[{self.n}] does not state {', '.join(sorted(self.missing))}"
        close = f"similarity {self.similarity:.2f}, word overlap {self.overlap:.2f}"
        return f"[{self.n}] too far ({close})"


def is_claim(claim: Claim, passages: list[Passage]) -> bool:
    """False for what states nothing: too few words, a question, an echoed header.

    A header echo ("How to Become a Machine Learning Engineer:", or one passage's
    title with another's heading) is a line whose words all come from the passages'
    titles and headings.
    """
    headers = set().union(*(terms(p.header) for p in passages))
    return not (
        len(claim.words) < MIN_WORDS
        or claim.text.endswith("?")  # a question, often the prompt's, repeated
        or claim.words <= headers
    )


def measure(claim: Claim, vector: np.ndarray, passage: Passage) -> Measure:
    """The claim's figures, similarity and word overlap against one passage."""
    return Measure(
        passage.n,
        claim.figures - passage.figures,
        _similarity(vector, passage),
        len(claim.words & passage.words) / max(len(claim.words), 1),
    )


def judge(claim: Claim, vector: np.ndarray, passages: list[Passage]) -> Verdict:
    """Which of the passages (the cited ones, or any when none is cited) support it."""
    if not is_claim(claim, passages):
        return Verdict(claim, (), "not a claim")
    candidates = [p for p in passages if p.n in claim.cited] or passages
    measures = [measure(claim, vector, p) for p in candidates]
    supported = [m for m in measures if m.supports(MIN_SIMILARITY, MIN_OVERLAP)]
    if supported:
        if not claim.cited:  # an uncited claim gets the best support only
            supported = [max(supported, key=lambda m: m.similarity)]
        return Verdict(claim, tuple(m.n for m in supported))
    cited = "its passages" if claim.cited else "any passage"
    reasons = "; ".join(m.why_not() for m in measures[:3])
    return Verdict(claim, (), f"not supported by {cited}: {reasons}")


def _similarity(vector: np.ndarray, passage: Passage) -> float:
    best = float(passage.vector @ vector)
    if len(passage.sentence_vectors):
        best = max(best, float((passage.sentence_vectors @ vector).max()))
    return best


def render(verdicts: list[Verdict]) -> str:
    """The supported claims, each followed by its markers; list lines kept as lines."""
    blocks: list[list[str]] = []  # a "- item" line, or a run of sentences
    for verdict in verdicts:
        if not verdict.supported_by:
            continue
        text = verdict.claim.text + "".join(f" [{n}]" for n in verdict.supported_by)
        if verdict.claim.item:
            blocks.append([f"- {text}"])
        elif blocks and not blocks[-1][0].startswith("- "):
            blocks[-1].append(text)
        else:
            blocks.append([text])
    return "\n".join(" ".join(block) for block in blocks)
