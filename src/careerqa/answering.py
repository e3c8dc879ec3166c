"""Extractive answers: the most relevant sentences of the retrieved passages, each cited.

Every sentence of the answer is copied from a passage and followed by the `[n]`
of the citation it came from. Whether to answer at all is decided by an
evidence score (see `evidence`), calibrated on the question set (README).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import numpy as np

from .lexical import terms
from .retrieval import Hit, Retriever
from .store import IndexData

NOT_COVERED = "The articles don't cover this question, so I can't answer it from them."
# Sentences nearly as similar to each other as this say the same thing.
_DUPLICATE = 0.9


@dataclass(frozen=True)
class Citation:
    """A retrieved passage as shown to the user; `n` is what `[n]` markers refer to."""

    n: int
    doc_id: str
    title: str
    source: str
    heading: str | None
    text: str
    start: int
    end: int
    score: float
    url: str


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


def make_citations(hits: list[Hit], data: IndexData) -> list[Citation]:
    citations = []
    for n, hit in enumerate(hits, start=1):
        chunk = hit.chunk.chunk
        doc = data.documents[chunk.doc_id]
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


def _units(
    hits: list[Hit], retriever: Retriever, query_vector: np.ndarray, question: str
) -> list[_Unit]:
    table, lexical = retriever.sentences, retriever.lexical
    wanted = set(terms(question))
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
    question: str,
    query_vector: np.ndarray,
    hits: list[Hit],
    retriever: Retriever,
    *,
    threshold: float,
    max_sentences: int,
    kept_meaning: float = 1.0,
    already_said: str = "",
) -> tuple[str, bool, float]:
    """(answer text, answered, evidence score) for retrieved hits.

    kept_meaning is the cosine between the question and the question without the
    words the corpus never uses (1.0 when it uses them all).
    """
    units = _units(hits, retriever, query_vector, question)
    if not units:
        return NOT_COVERED, False, 0.0
    units.sort(key=lambda u: -u.score)
    score = evidence(units[0].similarity, kept_meaning)
    if already_said:
        # A follow-up wants something new: skip what the last reply already said.
        said = " ".join(already_said.split())
        units = [u for u in units if not all(t in said for t in u.sentences)] or units
    best = units[0]
    if score < threshold:
        return NOT_COVERED, False, score
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
    parts = [" ".join(_sentence(t) for t in u.sentences) + f" [{u.n}]" for u in chosen]
    return " ".join(parts), True, score


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


def answer_to_dict(answer: Answer) -> dict[str, object]:
    """The `/ask` response object of DESIGN.md."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "answered": answer.answered,
        "citations": [c.__dict__.copy() for c in answer.citations],
        "took_ms": answer.took_ms,
    }
