"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores, added.

The dense stage searches chunk vectors and sentence vectors (both FAISS): a
chunk's similarity is the better of its own vector and its best sentence, so a
chunk that says one thing among several still matches a question on that thing.

A chunk's score is its dense similarity plus `lexical_weight` times its BM25 score
relative to the best chunk's. Adding scores, not ranks, lets one rare word the
question shares with a single passage ("premium") count even when the embedding
ranks that passage low; rank fusion gave such a passage no more than any other
first-ranked BM25 hit. Chunks found by neither stage's top candidates score 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .loaded import LoadedIndex
from .store import StoredChunk


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and its fused score."""

    row: int
    chunk: StoredChunk
    score: float


def _dense(index: LoadedIndex, query_vector: np.ndarray, depth: int) -> dict[int, float]:
    """Candidate chunk rows with their dense similarity."""
    data = index.data
    q = query_vector.reshape(1, -1)
    _, chunk_ids = data.vector_index.search(q, depth)
    _, sentence_ids = data.sentence_index.search(q, depth * 2)
    candidates = {int(i) for i in chunk_ids[0] if i >= 0}
    for s in sentence_ids[0]:
        candidates.update(index.chunks_of_sentence.get(int(s), ()))
    return _similarities(index, query_vector, candidates)


def _similarities(index: LoadedIndex, query_vector: np.ndarray, rows: set[int]) -> dict[int, float]:
    """Each chunk row's dense similarity: the better of its own vector and its best sentence."""
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
) -> list[Hit]:
    """The k best chunks for a question, best first."""
    n = len(index.data.chunks)
    if not n:
        return []
    depth = min(n, max(candidates, k))
    fused = _dense(index, query_vector, depth)
    lexical_all = index.lexical.scores(query_text)
    top = float(lexical_all.max())
    if top > 0:
        order = np.argsort(-lexical_all, kind="stable")[:depth].tolist()
        unreached = {row for row in order if lexical_all[row] > 0 and row not in fused}
        fused.update(_similarities(index, query_vector, unreached))
        for row in fused:
            fused[row] += lexical_weight * float(lexical_all[row]) / top
    best = sorted(fused, key=lambda row: (-fused[row], row))[:k]
    return [Hit(row, index.data.chunks[row], fused[row]) for row in best]
