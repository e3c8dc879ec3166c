"""The index folder: versioned builds, a manifest with checksums, an atomic switch.

Layout of index/:
    CURRENT          name of the live build, replaced atomically
    <build>/         manifest.json, documents.json, chunks.jsonl, vectors.npy,
                     sentence_vectors.npy, faiss.index, sentence_faiss.index (and,
                     for an IVF index, its lists: faiss.ivfdata, sentence_faiss.ivfdata)
    .lock            held by the one rebuild allowed at a time
A build is written into a temporary folder, fsynced, renamed, and only then
named in CURRENT, so a crash at any moment leaves the previous build live.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import Chunk
from .cleaning import Block
from .errors import IndexBusyError, IndexCorruptError, IndexMissingError, IndexWriteError
from .index import VectorIndex, ivf_data, write_index
from .manifest import Manifest, check_compatible, read_manifest

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK = ".lock"
_FILES = (
    "documents.json",
    "chunks.jsonl",
    "vectors.npy",
    "sentence_vectors.npy",
    "faiss.index",
    "sentence_faiss.index",
)


@dataclass
class StoredDocument:
    """A cleaned document as kept in the index, with the rows its chunks occupy."""

    doc_id: str
    title: str
    source: str
    url: str | None
    content_hash: str
    text: str
    blocks: list[Block]
    chunk_rows: tuple[int, int]
    sentence_rows: tuple[int, int]

    def page_at(self, offset: int) -> int | None:
        """The page of the original the text at `offset` is on (None: no pages)."""
        at = bisect.bisect_right(self.blocks, offset, key=lambda b: b.start) - 1
        return self.blocks[at].page if at >= 0 else None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk row: the chunk and the rows of its sentences in the sentence table."""

    chunk: Chunk
    sentence_rows: tuple[int, int]


@dataclass
class IndexData:
    """A loaded (or freshly built) index: everything a question needs, in memory."""

    manifest: Manifest
    documents: dict[str, StoredDocument]
    chunks: list[StoredChunk]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    vector_index: VectorIndex
    sentence_index: VectorIndex


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _durable(path: Path) -> Iterator[io.BufferedWriter]:
    """A file opened for writing, flushed and fsynced when the block ends."""
    with path.open("wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _write(path: Path, data: bytes) -> None:
    with _durable(path) as fh:
        fh.write(data)


_BUILD_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,99}")


def current_build(index_dir: Path) -> Path | None:
    """The live build folder, or None when nothing was ever built.

    IndexCorruptError when CURRENT cannot be read or does not name a build.
    """
    try:
        raw = (index_dir / CURRENT).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {index_dir / CURRENT}: {exc}") from exc
    try:
        name = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        name = ""
    if not _BUILD_NAME.fullmatch(name):
        raise IndexCorruptError(f"{index_dir / CURRENT} names no build — run `careerqa ingest`")
    return index_dir / name


def current_build_id(index_dir: Path) -> str | None:
    """Name of the live build, cheap enough to poll; None when there is none or it is garbage."""
    try:
        build = current_build(index_dir)
    except IndexCorruptError:
        return None
    return build.name if build else None


class BuildWriter:
    """A new build, written as it is laid out: each document's rows go straight to the
    build's files, and its FAISS indexes are made from the vector files a block at a
    time, so no part of the build is ever held whole in memory.

    Use it as a context manager and `publish` it to make it live; leaving the block
    without publishing (an error, an interrupt) removes what was written, and the
    previous build stays live.
    """

    def __init__(self, index_dir: Path, chunks: int, sentences: int, dimension: int):
        self.index_dir = index_dir
        self.build_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
        self.folder = index_dir / f".tmp-{self.build_id}"
        self._sizes = (chunks, sentences, dimension)
        self._files = contextlib.ExitStack()
        self.documents = self.chunks = self.sentences = 0
        self._published = False

    def __enter__(self) -> BuildWriter:
        chunks, sentences, dimension = self._sizes
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            self.folder.mkdir()
            self._documents = self._files.enter_context(_durable(self.folder / "documents.json"))
            self._documents.write(b"[")
            self._chunks = self._files.enter_context(_durable(self.folder / "chunks.jsonl"))
            self._vectors = _Rows(self._file("vectors.npy"), chunks, dimension)
            self._sentence_vectors = _Rows(self._file("sentence_vectors.npy"), sentences, dimension)
        except OSError as exc:
            self._discard()
            raise _unwritable(self.index_dir, exc) from exc
        return self

    def _file(self, name: str) -> io.BufferedWriter:
        return self._files.enter_context(_durable(self.folder / name))

    def __exit__(self, *exc: object) -> None:
        if not self._published:
            self._discard()

    def add(
        self,
        document: StoredDocument,
        chunks: list[StoredChunk],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        first_sentence: int = 0,
    ) -> None:
        """Append a document and its rows; `first_sentence` is the row its chunks'
        sentence rows count from (where it was in the build they come from)."""
        shift = self.sentences - first_sentence
        document = dataclasses.replace(  # a copy: the live build's rows stay as they were
            document,
            chunk_rows=(self.chunks, self.chunks + len(chunks)),
            sentence_rows=(self.sentences, self.sentences + len(sentence_vectors)),
        )
        try:
            self._documents.write(b"," if self.documents else b"")
            self._documents.write(json.dumps(document_json(document), ensure_ascii=False).encode())
            for stored in chunks:
                rows = (stored.sentence_rows[0] + shift, stored.sentence_rows[1] + shift)
                row = chunk_json(StoredChunk(stored.chunk, rows))
                self._chunks.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            self._vectors.write(chunk_vectors)
            self._sentence_vectors.write(sentence_vectors)
        except OSError as exc:
            raise _unwritable(self.index_dir, exc) from exc
        self.documents += 1
        self.chunks += len(chunks)
        self.sentences += len(sentence_vectors)

    def publish(
        self, manifest: Manifest, before_switch: Callable[[str], None] | None = None
    ) -> str:
        """Finish the files, index the vectors, and make the build live. Returns its id.

        `before_switch(build_id)` runs once the build folder is complete and before
        CURRENT names it (the Milvus store writes its collections then); if it raises,
        the previous build stays live.
        """
        try:
            self._documents.write(b"]")
            self._vectors.check()
            self._sentence_vectors.check()
            self._files.close()  # each file flushed and fsynced
            for vectors, index in (
                ("vectors.npy", "faiss.index"),
                ("sentence_vectors.npy", "sentence_faiss.index"),
            ):
                write_index(self.folder / vectors, self.folder / index)
                for made in (self.folder / index, ivf_data(self.folder / index)):
                    if made.is_file():  # faiss writes without fsync; the rest was synced
                        _fsync_file(made)
            manifest.build_id = self.build_id
            manifest.built_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            manifest.counts = {"documents": self.documents, "chunks": self.chunks}
            files = sorted(p for p in self.folder.iterdir() if p.name not in _SELF_CHECKED)
            manifest.checksums = {p.name: _sha256(p) for p in files}
            _write(self.folder / "manifest.json", json.dumps(asdict(manifest), indent=2).encode())
            _fsync_dir(self.folder)
            previous = current_build_id(self.index_dir)
            self._switch(before_switch)
        except OSError as exc:
            raise _unwritable(self.index_dir, exc) from exc
        # The previous build stays until the next switch: a reader may be opening it now.
        _collect_garbage(self.index_dir, keep={self.build_id, previous} - {None})
        log.info("index build %s is live (%d chunks)", self.build_id, self.chunks)
        return self.build_id

    def _switch(self, before_switch: Callable[[str], None] | None) -> None:
        final = self.index_dir / self.build_id
        self.folder.rename(final)
        self.folder = final
        if before_switch is not None:
            before_switch(self.build_id)
        pointer = self.index_dir / f".{CURRENT}.{self.build_id}"
        _write(pointer, self.build_id.encode())
        os.replace(pointer, self.index_dir / CURRENT)
        self._published = True
        _fsync_dir(self.index_dir)

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._files.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_SELF_CHECKED = {"manifest.json"}


class _Rows:
    """An .npy file of a known number of float32 rows, its header written first and
    the rows appended as they come."""

    def __init__(self, fh: io.BufferedWriter, rows: int, dimension: int):
        self.fh, self.rows, self.dimension, self.written = fh, rows, dimension, 0
        header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dimension)}
        np.lib.format.write_array_header_1_0(fh, header)

    def write(self, block: np.ndarray) -> None:
        if len(block) and block.shape[1] != self.dimension:
            raise ValueError(f"rows of {block.shape[1]} values in a build of {self.dimension}")
        if self.written + len(block) > self.rows:
            raise ValueError(f"more than the {self.rows} rows the build was sized for")
        self.fh.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
        self.written += len(block)

    def check(self) -> None:
        if self.written != self.rows:
            raise ValueError(f"{self.written} rows written of the {self.rows} expected")


def _unwritable(index_dir: Path, exc: OSError) -> IndexWriteError:
    return IndexWriteError(
        f"cannot write the index in {index_dir}: {exc.strerror or exc} — check that the "
        "folder is writable and the disk has room, or set CAREERQA_INDEX_DIR"
    )


def _collect_garbage(index_dir: Path, keep: set[str | None]) -> None:
    """Remove old builds and leftovers of crashed ones (the caller holds the lock)."""
    for path in index_dir.iterdir():
        if path.name in keep or not path.is_dir():
            continue
        if path.name.startswith(".tmp-") or path.name[:8].isdigit():
            shutil.rmtree(path, ignore_errors=True)


def load(index_dir: Path, expect: dict[str, object] | None = None) -> IndexData:
    """Read the live build, checking it against its manifest.

    With `expect` (a `manifest.compatibility_key`), a build made with other settings
    raises IndexMismatchError instead of being served.
    """
    build = current_build(index_dir)
    if build is None:
        raise IndexMissingError(f"no index in {index_dir} — run `careerqa ingest`")
    if not build.is_dir():
        raise IndexCorruptError(f"{index_dir / CURRENT} names {build.name}, which is missing")
    manifest = read_manifest(build)
    if expect is not None:
        check_compatible(manifest, expect, index_dir)
    for name in sorted(set(_FILES) | set(manifest.checksums)):
        path = build / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing")
        if _sha256(path) != manifest.checksums.get(name):
            raise IndexCorruptError(f"index file {path} does not match its checksum")
    return _open(build, manifest)


def open_build(index_dir: Path, build_id: str) -> IndexData:
    """A build this process has just written and checksummed (`BuildWriter.publish`),
    opened without reading every file again."""
    build = index_dir / build_id
    return _open(build, read_manifest(build))


def _open(build: Path, manifest: Manifest) -> IndexData:
    try:
        documents, chunks = _read_tables(build)
        # Memory-mapped: server processes on one machine share one copy in the page cache.
        vectors = np.load(build / "vectors.npy", mmap_mode="r")
        sentence_vectors = np.load(build / "sentence_vectors.npy", mmap_mode="r")
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(f"index in {build} is unreadable ({exc})") from exc
    vector_index = VectorIndex.load(build / "faiss.index")
    sentence_index = VectorIndex.load(build / "sentence_faiss.index")
    if (
        not (len(chunks) == len(vectors) == len(vector_index))
        or len(sentence_vectors) != len(sentence_index)
        or (len(vectors) and vectors.shape[1] != manifest.dimension)
    ):
        raise IndexCorruptError(f"index in {build} is inconsistent — run `careerqa ingest --full`")
    return IndexData(
        manifest, documents, chunks, vectors, sentence_vectors, vector_index, sentence_index
    )


def _read_tables(build: Path) -> tuple[dict[str, StoredDocument], list[StoredChunk]]:
    """The document and chunk tables of a build (its checksums already verified)."""
    documents = {}
    for d in json.loads((build / "documents.json").read_text()):
        document = document_from_json(d)
        documents[document.doc_id] = document
    lines = (build / "chunks.jsonl").read_text().splitlines()
    return documents, [chunk_from_json(json.loads(line)) for line in lines]


def document_json(document: StoredDocument) -> dict[str, Any]:
    """A stored document as JSON-ready data (documents.json, the ingest's staging)."""
    return {**asdict(document), "blocks": [asdict(b) for b in document.blocks]}


def document_from_json(d: dict[str, Any]) -> StoredDocument:
    d["blocks"] = [Block(**b) for b in d["blocks"]]
    d["chunk_rows"] = tuple(d["chunk_rows"])
    d["sentence_rows"] = tuple(d["sentence_rows"])
    return StoredDocument(**d)


def chunk_json(stored: StoredChunk) -> dict[str, Any]:
    """A chunk row as JSON-ready data (chunks.jsonl, the ingest's staging)."""
    return {**asdict(stored.chunk), "sentence_rows": stored.sentence_rows}


def chunk_from_json(row: dict[str, Any]) -> StoredChunk:
    rows = tuple(row.pop("sentence_rows"))
    row["sentences"] = tuple(tuple(s) for s in row["sentences"])
    return StoredChunk(Chunk(**row), rows)


@contextlib.contextmanager
def rebuild_lock(index_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the index's rebuild lock; IndexBusyError if another rebuild keeps it."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = (index_dir / LOCK).open("a")
    except OSError as exc:
        raise _unwritable(index_dir, exc) from exc
    with handle as fh:
        deadline = time.monotonic() + wait
        waited = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and wait > 0:
                    log.warning(
                        "another rebuild of %s is running; waiting up to %.0f s", index_dir, wait
                    )
                    waited = True
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"another rebuild of {index_dir} is running — wait for it to finish"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
