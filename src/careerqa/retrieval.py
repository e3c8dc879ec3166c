"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank.

The dense stage searches chunk vectors and sentence vectors (both FAISS): a
chunk's similarity is the better of its own vector and its best sentence, so a
chunk that says one thing among several still matches a question on that thing.
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
    rows = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
    padded = index.sentence_rows[rows]
    sentence_sims = data.sentence_vectors[np.maximum(padded, 0)] @ query_vector
    best_sentence = np.where(padded >= 0, sentence_sims, -1.0).max(axis=1)
    scores = np.maximum(data.vectors[rows] @ query_vector, best_sentence)
    return dict(zip(rows.tolist(), scores.tolist(), strict=True))


def search(
    index: LoadedIndex,
    query_vector: np.ndarray,
    query_text: str,
    k: int,
    *,
    candidates: int = 30,
    rrf_k: int = 60,
) -> list[Hit]:
    """The k best chunks for a question, best first."""
    n = len(index.data.chunks)
    if not n:
        return []
    depth = min(n, max(candidates, k))
    dense_scores = _dense(index, query_vector, depth)
    dense_order = sorted(dense_scores, key=lambda r: (-dense_scores[r], r))[:depth]
    lexical_all = index.lexical.scores(query_text)
    lexical_order = [
        int(i) for i in np.argsort(-lexical_all, kind="stable")[:depth] if lexical_all[i] > 0
    ]
    fused: dict[int, float] = {}
    for ranking in (dense_order, lexical_order):
        for rank, row in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (rrf_k + rank + 1)
    best = sorted(fused, key=lambda row: (-fused[row], row))[:k]
    return [Hit(row, index.data.chunks[row], fused[row]) for row in best]
