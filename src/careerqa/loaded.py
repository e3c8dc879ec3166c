"""One index build in memory with every per-index table a question needs, built once.

Retrieval and answering both read a LoadedIndex: the stored data (chunks,
vectors, documents), the searcher of its store (the embedded one: FAISS and BM25
here; or Milvus), the BM25 statistics the question's words are weighed with, the
sentence table, and the row maps between chunks and their sentences. Nothing here
is computed per question.
"""

from __future__ import annotations

import numpy as np

from .lexical import LexicalIndex
from .searching import Candidates, Searcher
from .sentences import SentenceTable
from .store import IndexData
from .vocabulary import Vocabulary


class EmbeddedSearcher:
    """The embedded store: the build's FAISS indexes and BM25 (bm25s), in this process."""

    def __init__(self, data: IndexData, lexical: LexicalIndex):
        self.data = data
        self.lexical = lexical

    def candidates(self, vector: np.ndarray, terms: list[str], depth: int) -> Candidates:
        q = vector.reshape(1, -1)
        _, chunk_ids = self.data.vector_index.search(q, depth)
        _, sentence_ids = self.data.sentence_index.search(q, depth * 2)
        scores = self.lexical.scores(terms)
        best = np.argsort(-scores, kind="stable")[:depth].tolist()
        return Candidates(
            [int(i) for i in chunk_ids[0] if i >= 0],
            [int(i) for i in sentence_ids[0] if i >= 0],
            {row: float(scores[row]) for row in best if scores[row] > 0},
        )


class LoadedIndex:
    """An index build ready to answer from; shared by all requests, never mutated."""

    def __init__(self, data: IndexData, searcher: Searcher | None = None):
        self.data = data
        texts = [c.chunk.embed_text for c in data.chunks]
        self.lexical = LexicalIndex(texts, searchable=searcher is None)
        self.searcher: Searcher = searcher or EmbeddedSearcher(data, self.lexical)
        self.sentences = SentenceTable(data)
        self.vocabulary = Vocabulary([c.chunk.text for c in data.chunks], self.lexical)
        # Which chunks each sentence row belongs to (neighbours share overlap sentences),
        # and each chunk's sentence rows padded with -1, for one gather per question.
        self.chunks_of_sentence: dict[int, list[int]] = {}
        spans = [c.sentence_rows for c in data.chunks]
        width = max((hi - lo for lo, hi in spans), default=1)
        self.sentence_rows = np.full((len(data.chunks), max(width, 1)), -1, dtype=np.int64)
        for row, (lo, hi) in enumerate(spans):
            self.sentence_rows[row, : hi - lo] = np.arange(lo, hi)
            for s in range(lo, hi):
                self.chunks_of_sentence.setdefault(s, []).append(row)

    @property
    def build_id(self) -> str:
        return self.data.manifest.build_id
