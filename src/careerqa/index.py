"""The vector index: FAISS behind a few verbs. Ids are row numbers of the chunk table.

Small collections get an exact flat index. From APPROXIMATE_FROM vectors on,
an inverted-file index (IVF) searches a few clusters instead of every vector;
`bench/run.py` measures the crossover and the recall (README, "Performance");
`bench/scale.py search` the index as a build writes it (README, "Running at scale").

A build's indexes are written by `write_index` from its vector file, a block of rows at
a time: an IVF index keeps its lists on disk (`<name>.ivfdata` beside `<name>.index`),
so neither writing nor serving one holds every vector in memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError

APPROXIMATE_FROM = 50_000
BLOCK_ROWS = 32_768  # rows read (and added to an IVF shard) at a time: ~50 MB at 384 dims
# Flat codes memory-mapped (faiss ≥ 1.8.0 has the flag; without it, read into memory).
_MMAP = getattr(faiss, "IO_FLAG_MMAP_IFC", 0)


# k-means wants ~40 points a cluster (faiss warns below 39); the sample is held in memory,
# so it is capped (~190 MB at 384 dimensions) and the clusters with it, whatever the size.
TRAIN_POINTS = 40
TRAIN_AT_MOST = 131_072


def ivf_lists(n: int) -> int:
    """Clusters of an IVF index over n vectors: about 4·√n, at most 3,276 (the capped
    training sample's 40 points each, reached at about 670,000 vectors)."""
    return max(1, min(int(4 * math.sqrt(n)), TRAIN_AT_MOST // TRAIN_POINTS))


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
            ivf = _trained_ivf(dim, len(vectors), [vectors])
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

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index: a flat one's vectors and an IVF one's lists (`write_index`) are
        memory-mapped, shared by every process that serves the same build."""
        try:
            if ivf_data(path).is_file():  # lists on disk, found beside the index file
                with _c_stdout_to_stderr():  # faiss prints where it found them
                    return cls(faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR))
            return cls(faiss.read_index(str(path), _MMAP))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index ({exc})") from exc


def ivf_data(path: Path) -> Path:
    """Where `write_index` keeps an IVF index's lists: beside the index file."""
    return path.with_suffix(".ivfdata")


def write_index(vectors: Path, out: Path, block: int = BLOCK_ROWS) -> None:
    """Write the index of the vectors in an .npy file (row i under id i), reading a block
    of rows at a time: flat below APPROXIMATE_FROM rows (at most that many in memory),
    else IVF, trained on a sample, filled by shards of BLOCK_ROWS rows that are merged
    into lists on disk (`ivf_data(out)`)."""
    rows, dim = npy_shape(vectors)
    if rows < APPROXIMATE_FROM:
        flat = faiss.IndexFlatIP(dim)
        for rows_read in read_rows(vectors, block):
            flat.add(rows_read)
        faiss.write_index(flat, str(out))
        return
    ivf = _trained_ivf(dim, rows, read_rows(vectors, block))
    shards: list[Path] = []
    try:
        start = 0
        for rows_read in read_rows(vectors, block):
            shard = faiss.clone_index(ivf)
            ids = np.arange(start, start + len(rows_read), dtype=np.int64)
            shard.add_with_ids(rows_read, ids)
            shards.append(out.with_name(f"{out.name}.shard{len(shards)}"))
            faiss.write_index(shard, str(shards[-1]))
            start += len(rows_read)
            del shard
        _merge_on_disk(ivf, shards, ivf_data(out))
        faiss.write_index(ivf, str(out))
    finally:
        for shard_path in shards:
            shard_path.unlink(missing_ok=True)


def _trained_ivf(dim: int, rows: int, blocks: Iterable[np.ndarray]) -> faiss.IndexIVFFlat:
    """An empty IVF index over `rows` vectors, its clusters trained on a sample of them
    gathered block by block."""
    lists = ivf_lists(rows)
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    size = min(rows, TRAIN_POINTS * lists)
    chosen = np.sort(np.random.default_rng(0).choice(rows, size, replace=False))
    sample = np.empty((size, dim), dtype=np.float32)
    start = taken = 0
    for block in blocks:
        lo, hi = np.searchsorted(chosen, (start, start + len(block)))
        here = chosen[lo:hi] - start
        sample[taken : taken + len(here)] = block[here]
        taken += len(here)
        start += len(block)
    ivf.train(sample)
    ivf.nprobe = ivf_probes(lists)
    return ivf


def _merge_on_disk(ivf: faiss.IndexIVFFlat, shards: list[Path], data: Path) -> None:
    """Move the shards' lists into one file of on-disk lists that `ivf` then reads."""
    shard_indexes = [faiss.read_index(str(p), faiss.IO_FLAG_MMAP) for p in shards]
    parts = [faiss.extract_index_ivf(index) for index in shard_indexes]  # alive while merged
    lists = faiss.OnDiskInvertedLists(ivf.nlist, ivf.code_size, str(data))
    pointers = faiss.InvertedListsPtrVector()  # type: ignore[attr-defined]
    for part in parts:
        pointers.push_back(part.invlists)
    with _c_stdout_to_stderr():  # faiss prints the file's size as it grows it
        total = lists.merge_from_multiple(pointers.data(), pointers.size())
    ivf.ntotal = total
    ivf.replace_invlists(lists, True)
    lists.this.disown()  # type: ignore[attr-defined]  # ivf owns the lists now


def npy_shape(path: Path) -> tuple[int, int]:
    """(rows, columns) of a 2-D float32 .npy file, from its header."""
    with path.open("rb") as fh:
        return _npy_header(fh)


def _npy_header(fh: io.BufferedReader) -> tuple[int, int]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    if len(shape) != 2 or dtype != np.float32:
        raise IndexCorruptError(f"{fh.name} is not a matrix of float32 vectors")
    return int(shape[0]), int(shape[1])


def read_rows(path: Path, block: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """The rows of a 2-D float32 .npy file, `block` at a time, read (not mapped): the
    process holds one block, whatever the file's size."""
    with path.open("rb") as fh:
        rows, dim = _npy_header(fh)
        for start in range(0, rows, block):
            count = min(block, rows - start)
            data = np.fromfile(fh, dtype=np.float32, count=count * dim)
            if len(data) != count * dim:
                raise IndexCorruptError(f"{path} ends before its {rows} rows")
            yield data.reshape(count, dim)


@contextlib.contextmanager
def _c_stdout_to_stderr() -> Iterator[None]:
    """What C code prints on standard output goes to standard error meanwhile (faiss
    prints progress there; careerqa's standard output is its results)."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
