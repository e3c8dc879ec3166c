"""Hybrid retrieval: dense and lexical (BM25) scores, added, over a store's candidates.

The store (searching.py) finds candidates: the nearest chunk vectors, the nearest
sentence vectors and the best BM25 chunks. A chunk's dense similarity is the better
of its own vector and its best sentence, so a chunk that says one thing among several
still matches a question on that thing.

A chunk's score is its dense similarity plus `lexical_weight` times its BM25 score
relative to the best chunk's; a store reports BM25 for its best `depth` chunks only,
so a dense candidate outside them gets no lexical share. Adding scores, not ranks,
lets one rare word the question shares with a single passage ("premium") count even
when the embedding ranks that passage low; rank fusion gave such a passage no more
than any other first-ranked BM25 hit (README, "Running at scale", measures Milvus'
RRF against it).

Lexical scores can also push out the passage the embedding clearly prefers ("Is AI going
to make ML engineers obsolete?": the section headed "Will AI Replace Machine Learning
Engineers?" leads every other by 0.13, but BM25 favours passages that say "AI" and
"engineers" often), so a chunk whose dense similarity leads the next by `CLEAR_LEAD`
always stays among the hits.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from .lexical import terms
from .loaded import LoadedIndex
from .store import StoredChunk

# How far a chunk's dense similarity must lead every other's to stay among the hits
# whatever the lexical scores add (README, "Retrieval").
CLEAR_LEAD = 0.08


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and its fused score."""

    row: int
    chunk: StoredChunk
    score: float


def _similarities(index: LoadedIndex, query_vector: np.ndarray, rows: set[int]) -> dict[int, float]:
    """Each chunk row's dense similarity: the better of its own vector and its best sentence."""
    if not rows:
        return {}
    data = index.data
    found = np.fromiter(rows, dtype=np.int64, count=len(rows))
    padded = index.sentence_rows[found]
    sentence_sims = data.sentence_vectors[np.maximum(padded, 0)] @ query_vector
    best_sentence = np.where(padded >= 0, sentence_sims, -1.0).max(axis=1)
    scores = np.maximum(data.vectors[found] @ query_vector, best_sentence)
    return dict(zip(found.tolist(), scores.tolist(), strict=True))


def search(
    index: LoadedIndex,
    query_vector: np.ndarray,
    query_text: str,
    k: int,
    *,
    candidates: int = 30,
    lexical_weight: float = 0.5,
    sentences: list[int] | None = None,
) -> list[Hit]:
    """The k best chunks for a question, best first. `sentences`, when given, receives
    the store's nearest sentence rows, best first (a figure question looks through them)."""
    n = len(index.data.chunks)
    if not n:
        return []
    depth = min(n, max(candidates, k))
    found = index.searcher.candidates(query_vector, terms(query_text), depth)
    if sentences is not None:
        sentences.extend(found.sentence_rows)
    dense: dict[int, float] = {}
    if found.fused is not None:
        fused = found.fused
    else:
        rows = set(found.chunk_rows) | set(found.lexical)
        for s in found.sentence_rows:
            rows.update(index.chunks_of_sentence.get(s, ()))
        dense = _similarities(index, query_vector, rows)
        fused = dict(dense)
        top = max(found.lexical.values(), default=0.0)
        if top > 0:
            for row, score in found.lexical.items():
                fused[row] += lexical_weight * score / top
    best = sorted(fused, key=lambda row: (-fused[row], row))[:k]
    winner = _clear_winner(dense)
    if winner is not None and winner not in best:
        best = sorted([*best[: k - 1], winner], key=lambda row: (-fused[row], row))
    return [Hit(row, index.data.chunks[row], fused[row]) for row in best]


def _clear_winner(dense: dict[int, float]) -> int | None:
    """The row whose dense similarity leads every other's by `CLEAR_LEAD`, if there is one."""
    if len(dense) < 2:
        return None
    (first, best), (_, second) = heapq.nlargest(2, dense.items(), key=lambda kv: (kv[1], -kv[0]))
    return first if best - second >= CLEAR_LEAD else None
