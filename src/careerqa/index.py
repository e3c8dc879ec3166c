"""The vector index: FAISS behind a few verbs. Ids are row numbers of the chunk table.

Small collections get an exact flat index. From APPROXIMATE_FROM vectors on,
an inverted-file index (IVF) searches a few clusters instead of every vector;
`bench/run.py` measures the crossover and the recall (README, "Scale").
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError

APPROXIMATE_FROM = 50_000
# Flat codes memory-mapped (faiss ≥ 1.8.0 has the flag; without it, read into memory).
_MMAP = getattr(faiss, "IO_FLAG_MMAP_IFC", 0)


def ivf_lists(n: int) -> int:
    """Clusters of an IVF index over n vectors (about 4·√n)."""
    return max(1, int(4 * math.sqrt(n)))


def ivf_probes(lists: int) -> int:
    """Clusters searched per question; measured to keep recall@10 at or above 0.95."""
    return max(16, lists // 64)


class VectorIndex:
    """Inner-product search over L2-normalized vectors (cosine similarity)."""

    def __init__(self, index: faiss.Index):
        self._index = index

    @classmethod
    def build(
        cls, vectors: np.ndarray, dimension: int | None = None, kind: str = "auto"
    ) -> VectorIndex:
        """An index holding `vectors`, row i under id i: flat, ivf, or auto by size."""
        dim = dimension if dimension is not None else vectors.shape[1]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if kind == "auto":
            kind = "ivf" if len(vectors) >= APPROXIMATE_FROM else "flat"
        if kind == "flat":
            index = cls(faiss.IndexFlatIP(dim))
        elif kind == "ivf":
            lists = ivf_lists(len(vectors))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
            # k-means wants ~40 points a cluster (faiss warns below 39); more only costs time.
            sample = vectors
            if len(vectors) > 40 * lists:
                rng = np.random.default_rng(0)
                sample = vectors[rng.choice(len(vectors), 40 * lists, replace=False)]
            ivf.train(sample)
            ivf.nprobe = ivf_probes(lists)
            index = cls(ivf)  # faiss' wrapper keeps the quantizer alive with ivf
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        index.add(vectors)
        return index

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

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
        if not ids:
            return
        if self.kind == "flat":
            self._index.remove_ids(np.asarray(sorted(ids), dtype=np.int64))  # type: ignore[arg-type]
            return
        # IVF keeps ids as they were; renumber by re-adding the rows that stay.
        self._index.make_direct_map()  # type: ignore[attr-defined]
        gone = set(ids)
        kept = np.asarray([i for i in range(len(self)) if i not in gone], dtype=np.int64)
        rows = self._index.reconstruct_batch(kept) if len(kept) else None
        self._index.reset()
        if rows is not None:
            self.add(rows)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best k (scores, ids) per query row; ids of -1 mean fewer than k rows."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if not len(self):
            n = len(queries)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self._index.search(queries, max(1, min(k, len(self))))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index; a flat one's vectors are memory-mapped, shared by every process
        that serves the same build (an IVF one is read into memory)."""
        try:
            return cls(faiss.read_index(str(path), _MMAP))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index ({exc})") from exc
