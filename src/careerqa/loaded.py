"""One index build in memory with every per-index table a question needs, built once.

Retrieval and answering both read a LoadedIndex: the stored data (chunks,
vectors, FAISS indexes, documents), the BM25 index over the chunks, the sentence
table, and the row maps between chunks and their sentences. Nothing here is
computed per question.
"""

from __future__ import annotations

import numpy as np

from .lexical import LexicalIndex
from .sentences import SentenceTable
from .store import IndexData
from .vocabulary import Vocabulary


class LoadedIndex:
    """An index build ready to answer from; shared by all requests, never mutated."""

    def __init__(self, data: IndexData):
        self.data = data
        self.lexical = LexicalIndex([c.chunk.embed_text for c in data.chunks])
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
