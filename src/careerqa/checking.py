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

import numpy as np

from .lexical import terms

# Calibrated with `python bench/calibrate_checker.py` (README, "Generated answers").
MIN_SIMILARITY = 0.55
MIN_OVERLAP = 0.5
# A claim needs this many content words to be checked at all: "Sure!" is not a claim.
MIN_WORDS = 2

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9$£€-])")
# "$120,000", "120k", "21%", "2018", "3.5": what a claim must not invent.
_FIGURE = re.compile(r"[$£€]?\d[\d,]*(?:\.\d+)?\s*(?:%|percent|k\b|K\b)?")
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


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


@dataclass(frozen=True)
class Verdict:
    """A claim and the passages that support it (none: unsupported, with why)."""

    claim: Claim
    supported_by: tuple[int, ...]
    reason: str = ""


def claims(text: str, numbers: set[int]) -> list[Claim]:
    """The answer's claims, each once; markers naming no passage in `numbers` are dropped.

    A last sentence without its full stop was cut off (the model ran out of tokens)
    and is left out, as are repeats.
    """
    out: list[Claim] = []
    seen: set[str] = set()
    text = _without_cut_off(text.replace("\r", "").strip())
    for line in text.split("\n"):
        item = bool(_ITEM.match(line))
        body = _ITEM.sub("", line).strip()
        pieces = [body] if item else _SENTENCE_END.split(body)
        for piece in pieces:
            cited: list[int] = []
            for group in _MARKERS.findall(piece):
                cited += [int(n) for n in group.split(",") if int(n) in numbers]
            plain = " ".join(_MARKERS.sub("", piece).split())
            if plain and plain.lower() not in seen:
                seen.add(plain.lower())
                out.append(Claim(plain, tuple(dict.fromkeys(cited)), item))
    return out


def _without_cut_off(text: str) -> str:
    """The text without a last sentence the model did not finish."""
    lines = text.split("\n")
    last = lines[-1]
    plain = _MARKERS.sub("", last).rstrip()
    if _ITEM.match(last) or not plain or plain[-1] in ".!?:)\"'”":
        return text
    lines[-1] = " ".join(_SENTENCE_END.split(last)[:-1])
    return "\n".join(lines)


def figures(text: str) -> set[str]:
    """The figures a text states, normalised: "$120,000" → "120000", "21 %" → "21%"."""
    found = set()
    for match in _FIGURE.finditer(text):
        raw = match.group().lower().replace(",", "").replace(" ", "")
        raw = raw.lstrip("$£€").replace("percent", "%")
        if raw.endswith("k"):
            raw = raw[:-1] + "000"
        found.add(raw.rstrip("."))
    return found


def judge(claim: Claim, vector: np.ndarray, passages: list[Passage]) -> Verdict:
    """Which of the passages (the cited ones, or any when none is cited) support it."""
    words = set(terms(claim.text))
    lowered = claim.text.lower()
    if (
        len(words) < MIN_WORDS
        or claim.text.endswith("?")  # a question, often the prompt's, repeated
        or any(lowered.startswith(p.header.lower()) for p in passages)  # a passage's header
    ):
        return Verdict(claim, (), "not a claim")
    candidates = [p for p in passages if p.n in claim.cited] or passages
    stated = figures(claim.text)
    reasons = []
    supported = []
    for passage in candidates:
        missing = stated - passage.figures
        if missing:
            reasons.append(f"[{passage.n}] does not state {', '.join(sorted(missing))}")
            continue
        similarity = _similarity(vector, passage)
        overlap = len(words & passage.words) / len(words)
        if similarity >= MIN_SIMILARITY and overlap >= MIN_OVERLAP:
            supported.append(passage.n)
        else:
            reasons.append(
                f"[{passage.n}] too far (similarity {similarity:.2f}, word overlap {overlap:.2f})"
            )
    if supported:
        if not claim.cited:  # an uncited claim gets the best support only
            best = max(
                (p for p in passages if p.n in supported), key=lambda p: _similarity(vector, p)
            )
            supported = [best.n]
        return Verdict(claim, tuple(supported))
    cited = "its passages" if claim.cited else "any passage"
    return Verdict(claim, (), f"not supported by {cited}: " + "; ".join(reasons[:3]))


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
