"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import VectorIndex
from .lexical import LexicalIndex
from .store import IndexData, StoredChunk


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks and scores of each stage."""

    row: int
    chunk: StoredChunk
    score: float
    dense_rank: int | None
    dense_score: float
    lexical_rank: int | None
    lexical_score: float


class Retriever:
    """Searches one loaded index; built once per index, shared by all requests.

    The dense stage searches chunk vectors and sentence vectors (both FAISS): a
    chunk's similarity is the better of its own vector and its best sentence, so a
    chunk that says one thing among several still matches a question on that thing.
    """

    def __init__(self, data: IndexData, *, candidates: int = 30, rrf_k: int = 60):
        self.data = data
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.lexical = LexicalIndex([c.chunk.embed_text for c in data.chunks])
        self.sentence_index = VectorIndex.build(data.sentence_vectors, data.manifest.dimension)
        self.centered_sentences, self.mean_sentence = _centered(data.sentence_vectors)
        # Which chunks each sentence row belongs to (neighbours share overlap sentences).
        self._chunks_of: dict[int, list[int]] = {}
        for row, stored in enumerate(data.chunks):
            for s in range(*stored.sentence_rows):
                self._chunks_of.setdefault(s, []).append(row)

    def center(self, vector: np.ndarray) -> np.ndarray:
        """A question vector in the centered space of `centered_sentences`."""
        shifted = vector - self.mean_sentence
        norm = float(np.linalg.norm(shifted))
        return shifted / norm if norm > 0 else shifted

    def _dense(self, query_vector: np.ndarray, depth: int) -> dict[int, float]:
        """Candidate chunk rows with their dense similarity."""
        q = query_vector.reshape(1, -1)
        _, chunk_ids = self.data.vector_index.search(q, depth)
        _, sentence_ids = self.sentence_index.search(q, depth * 2)
        rows = {int(i) for i in chunk_ids[0] if i >= 0}
        for s in sentence_ids[0]:
            rows.update(self._chunks_of.get(int(s), ()))
        scores = {}
        for row in rows:
            lo, hi = self.data.chunks[row].sentence_rows
            best_sentence = (
                float((self.data.sentence_vectors[lo:hi] @ query_vector).max()) if hi > lo else -1.0
            )
            scores[row] = max(float(self.data.vectors[row] @ query_vector), best_sentence)
        return scores

    def search(self, query_vector: np.ndarray, query_text: str, k: int) -> list[Hit]:
        """The k best chunks for a question, best first."""
        n = len(self.data.chunks)
        if not n:
            return []
        depth = min(n, max(self.candidates, k))
        dense_scores = self._dense(query_vector, depth)
        dense_order = sorted(dense_scores, key=lambda r: (-dense_scores[r], r))[:depth]
        dense = {row: rank for rank, row in enumerate(dense_order)}
        lexical_all = self.lexical.scores(query_text)
        order = np.argsort(-lexical_all, kind="stable")[:depth]
        lexical = {int(i): r for r, i in enumerate(order) if lexical_all[i] > 0}
        fused: dict[int, float] = {}
        for ranking in (dense, lexical):
            for row, rank in ranking.items():
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        best = sorted(fused, key=lambda row: (-fused[row], row))[:k]
        return [
            Hit(
                row=row,
                chunk=self.data.chunks[row],
                score=fused[row],
                dense_rank=dense[row] + 1 if row in dense else None,
                dense_score=dense_scores.get(row, float(self.data.vectors[row] @ query_vector)),
                lexical_rank=lexical[row] + 1 if row in lexical else None,
                lexical_score=float(lexical_all[row]),
            )
            for row in best
        ]


def _centered(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors with the corpus' common direction taken out, renormalized.

    Every sentence of a career corpus is "about machine learning engineers"; taking
    out the mean leaves what distinguishes one sentence from another. The mean is
    shrunk for small corpora, where it is no common direction yet.
    """
    n = len(vectors)
    if not n:
        return vectors, np.zeros(vectors.shape[1], dtype=np.float32)
    mean = (vectors.mean(axis=0) * (n / (n + 100))).astype(np.float32)
    shifted = vectors - mean
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32), mean
