"""The vector index: FAISS behind a few verbs. Ids are row numbers of the chunk table."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError


class VectorIndex:
    """Inner-product search over L2-normalized vectors (cosine similarity)."""

    def __init__(self, index: faiss.Index):
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, dimension: int | None = None) -> VectorIndex:
        """A flat (exact) index holding `vectors`, row i under id i."""
        dim = dimension if dimension is not None else vectors.shape[1]
        index = cls(faiss.IndexFlatIP(dim))
        index.add(vectors)
        return index

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; their ids continue the row numbering."""
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def remove(self, ids: list[int]) -> None:
        """Drop rows; later rows move up, like rows deleted from the chunk table."""
        if ids:
            self._index.remove_ids(np.asarray(sorted(ids), dtype=np.int64))  # type: ignore[arg-type]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best k (scores, ids) per query row; ids of -1 mean fewer than k rows."""
        k = max(1, min(k, len(self))) if len(self) else 1
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if not len(self):
            n = len(queries)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self._index.search(queries, k)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index ({exc})") from exc
