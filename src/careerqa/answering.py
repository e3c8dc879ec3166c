"""Extractive answers: the most relevant sentences of the retrieved passages, each cited.

Every sentence of the answer is copied from a passage and followed by the `[n]`
of the citation it came from. Whether to answer at all is decided by an
evidence score (see `evidence`), calibrated on the question sets (README).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
from pydantic import BaseModel, Field

from .lexical import terms
from .loaded import LoadedIndex
from .query import Query
from .retrieval import Hit

NOT_COVERED = "The articles don't cover this question, so I can't answer it from them."
# Sentences nearly as similar to each other as this say the same thing.
_DUPLICATE = 0.9


class Citation(BaseModel, frozen=True):
    """A retrieved passage; `n` is the number `[n]` markers in the answer use."""

    # The citation of the /ask contract: the API and `ask --json` serialize it as it is.

    n: int
    doc_id: str
    title: str
    source: str = Field(description="Path of the article, relative to the corpus folder.")
    heading: str | None
    text: str
    start: int = Field(description="Offset of the passage in the cleaned article text.")
    end: int
    score: float = Field(description="Reciprocal-rank-fusion score.")
    url: str = Field(description="The source view with this passage highlighted.")


@dataclass(frozen=True)
class Answer:
    """The reply to one question."""

    question: str
    answer: str
    answered: bool
    citations: list[Citation]
    evidence: float
    took_ms: float = 0.0


@dataclass(frozen=True)
class Composed:
    """An answer's text, whether it answers at all, and the evidence that decided it."""

    text: str
    answered: bool
    evidence: float


@dataclass(frozen=True)
class _Unit:
    """One sentence, or a sentence with the ones that refer back to it ("This includes…")."""

    n: int
    sentences: tuple[str, ...]
    similarity: float  # cosine to the question, the evidence measure
    distinct: float  # cosine in the centered space: what sets it apart from the corpus
    overlap: float  # IDF-weighted share of the question's words it uses
    vector: np.ndarray

    @property
    def score(self) -> float:
        """Ranks sentences for the answer: specific matches beat generic on-topic ones."""
        return self.distinct + 0.3 * self.overlap


def citation_url(doc_id: str, start: int, end: int) -> str:
    """Where the source view shows this passage highlighted."""
    return f"/sources/{quote(doc_id)}?start={start}&end={end}#passage"


def make_citations(hits: list[Hit], index: LoadedIndex) -> list[Citation]:
    """One citation per hit, numbered from 1 in rank order."""
    citations = []
    for n, hit in enumerate(hits, start=1):
        chunk = hit.chunk.chunk
        doc = index.data.documents[chunk.doc_id]
        citations.append(
            Citation(
                n=n,
                doc_id=chunk.doc_id,
                title=doc.title,
                source=doc.source,
                heading=chunk.heading,
                text=chunk.text,
                start=chunk.start,
                end=chunk.end,
                score=round(hit.score, 6),
                url=citation_url(chunk.doc_id, chunk.start, chunk.end),
            )
        )
    return citations


def _units(hits: list[Hit], index: LoadedIndex, query: Query) -> list[_Unit]:
    table, lexical = index.sentences, index.lexical
    query_vector = query.vector
    wanted = set(terms(query.question))
    weight = {t: lexical.idf(t) for t in wanted}
    total = sum(weight.values()) or 1.0
    groups: list[tuple[int, list[int]]] = []  # (citation number, sentence rows)
    seen: set[int] = set()
    for n, hit in enumerate(hits, start=1):
        lo, hi = hit.chunk.sentence_rows
        row = lo
        while row < hi:
            group = [row]
            while group[-1] + 1 < hi and len(group) < 3 and table.refers_back[group[-1] + 1]:
                group.append(group[-1] + 1)
            row = group[-1] + 1
            if seen.intersection(group):
                continue  # shared by overlapping chunks: cite the better-ranked one
            seen.update(group)
            if table.texts[group[-1]].endswith(":"):
                continue  # a list's lead-in ("Here are some examples:") answers nothing
            groups.append((n, group))
    if not groups:
        return []
    rows = np.asarray([r for _, group in groups for r in group], dtype=np.int64)
    sims = table.vectors[rows] @ query_vector
    distinct = table.centered[rows] @ table.center(query_vector)
    out: list[_Unit] = []
    cursor = 0
    for n, group in groups:
        g_sims = sims[cursor : cursor + len(group)]
        g_distinct = distinct[cursor : cursor + len(group)]
        cursor += len(group)
        words = frozenset().union(*(table.terms[r] for r in group))
        if len(words) < 3:
            continue  # fragments answer nothing
        best = int(np.argmax(g_sims))
        out.append(
            _Unit(
                n,
                tuple(table.texts[r] for r in group),
                float(g_sims[best]),
                float(g_distinct.max()),
                sum(weight[t] for t in words & wanted) / total,
                table.vectors[group[best]],
            )
        )
    return out


def compose(
    query: Query, hits: list[Hit], index: LoadedIndex, *, threshold: float, max_sentences: int
) -> Composed:
    """The answer to `query` from the sentences of the retrieved hits, or a refusal."""
    units = _units(hits, index, query)
    if not units:
        return Composed(NOT_COVERED, False, 0.0)
    units.sort(key=lambda u: -u.score)
    score = evidence(units[0].similarity, query.kept_meaning)
    if query.already_said:
        # A follow-up wants something new: skip what the last reply already said.
        said = " ".join(query.already_said.split())
        units = [u for u in units if not all(t in said for t in u.sentences)] or units
    if score < threshold:
        return Composed(NOT_COVERED, False, score)
    chosen = _choose(units, max_sentences)
    parts = [" ".join(_sentence(t) for t in u.sentences) + f" [{u.n}]" for u in chosen]
    return Composed(" ".join(parts), True, score)


def _choose(units: list[_Unit], max_sentences: int) -> list[_Unit]:
    """The best unit, then the next ones close to it in score that say something new."""
    best = units[0]
    chosen = [best]
    used = len(best.sentences)
    for unit in units[1:]:
        if used >= max_sentences or unit.score < best.score - 0.15:
            break
        if used + len(unit.sentences) > max_sentences:
            continue
        if all(float(unit.vector @ c.vector) < _DUPLICATE for c in chosen):
            chosen.append(unit)
            used += len(unit.sentences)
    return chosen


def evidence(similarity: float, kept_meaning: float) -> float:
    """How well the passages support an answer.

    The best sentence's similarity to the question, scaled by how much of the
    question's meaning survives once the words the articles never use are taken
    out: "the salary of a registered nurse" loses its subject and most of its
    meaning, "which cities pay the most" keeps most of it.
    """
    return similarity * max(kept_meaning, 0.0)


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", ":", '"', "”")) else text + "."
