"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import LexicalIndex
from .sentences import SentenceTable
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
        self.sentences = SentenceTable(data)
        # Which chunks each sentence row belongs to (neighbours share overlap sentences),
        # and each chunk's sentence rows padded with -1, for one gather per question.
        self._chunks_of: dict[int, list[int]] = {}
        width = max((hi - lo for lo, hi in (c.sentence_rows for c in data.chunks)), default=1)
        self._sentence_rows = np.full((len(data.chunks), max(width, 1)), -1, dtype=np.int64)
        for row, stored in enumerate(data.chunks):
            lo, hi = stored.sentence_rows
            self._sentence_rows[row, : hi - lo] = np.arange(lo, hi)
            for s in range(lo, hi):
                self._chunks_of.setdefault(s, []).append(row)

    def _dense(self, query_vector: np.ndarray, depth: int) -> dict[int, float]:
        """Candidate chunk rows with their dense similarity."""
        q = query_vector.reshape(1, -1)
        _, chunk_ids = self.data.vector_index.search(q, depth)
        _, sentence_ids = self.data.sentence_index.search(q, depth * 2)
        candidates = {int(i) for i in chunk_ids[0] if i >= 0}
        for s in sentence_ids[0]:
            candidates.update(self._chunks_of.get(int(s), ()))
        rows = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        padded = self._sentence_rows[rows]
        sentence_sims = self.data.sentence_vectors[np.maximum(padded, 0)] @ query_vector
        best_sentence = np.where(padded >= 0, sentence_sims, -1.0).max(axis=1)
        scores = np.maximum(self.data.vectors[rows] @ query_vector, best_sentence)
        return dict(zip(rows.tolist(), scores.tolist(), strict=True))

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
                dense_score=dense_scores[row]
                if row in dense_scores
                else float(self.data.vectors[row] @ query_vector),
                lexical_rank=lexical[row] + 1 if row in lexical else None,
                lexical_score=float(lexical_all[row]),
            )
            for row in best
        ]
