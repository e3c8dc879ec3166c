"""The sentence table: each indexed sentence's answer-ready text, words and vectors.

Built once per loaded index, so that composing an answer does no text
processing and one matrix product per question.
"""

from __future__ import annotations

import re

import numpy as np

from .cleaning import LIST_MARKER
from .lexical import terms
from .store import IndexData

_ANAPHOR = re.compile(r"^(?:this|these|those|they|their|such|it|its|that|he|she)\b", re.I)


class SentenceTable:
    """Rows match the index's sentence vectors."""

    def __init__(self, data: IndexData):
        n = len(data.sentence_vectors)
        self.texts: list[str] = [""] * n
        self.terms: list[frozenset[str]] = [frozenset()] * n
        self.refers_back = np.zeros(n, dtype=bool)  # starts "This…", "They…"
        for stored in data.chunks:
            doc = data.documents[stored.chunk.doc_id]
            lo, _ = stored.sentence_rows
            for k, (a, b) in enumerate(stored.chunk.sentences):
                row = lo + k
                if self.texts[row]:
                    continue  # shared with the neighbouring chunk
                text = LIST_MARKER.sub("", doc.text[a:b]).strip()
                self.texts[row] = text
                self.terms[row] = frozenset(terms(text))
                self.refers_back[row] = bool(_ANAPHOR.match(text))
        self.vectors = data.sentence_vectors
        self.centered, self.mean = centered(data.sentence_vectors)

    def center(self, vector: np.ndarray) -> np.ndarray:
        """A question vector in the centered space of `centered`."""
        shifted = vector - self.mean
        norm = float(np.linalg.norm(shifted))
        return shifted / norm if norm > 0 else shifted


def centered(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
