"""Ingesting the corpus: clean, chunk, embed what changed, and switch the index.

`refresh_index` is what the CLI and the server call to get an index to serve:
an incremental ingest (no model load when nothing changed), or the last good
build when the rebuild fails.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import __version__, store
from .chunking import ChunkSettings, chunk_document
from .cleaning import clean
from .corpus import KINDS, Document, load_corpus
from .embedding import Embedder
from .errors import (
    CareerQAError,
    CorpusError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
    ModelError,
    StoreError,
)
from .index import VectorIndex
from .manifest import Manifest, compatibility_key
from .settings import Settings
from .staging import Embedded, Staging
from .store import IndexData, StoredChunk, StoredDocument

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest run did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # indexed, with a problem
    chunks_embedded: int = 0
    resumed: int = 0  # documents an earlier, unfinished run had embedded
    build_id: str | None = None
    full: bool = False
    reason: str = ""
    seconds: float = 0.0
    # The live index afterwards, as loaded or built here: callers serve it without reading
    # and checksumming the same files again.
    data: IndexData | None = field(default=None, repr=False)

    @property
    def did_change(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.changed)} changed",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
        ]
        line = ", ".join(parts) + f"; {self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"
        if self.resumed:
            line += f"; {self.resumed} document(s) taken from an unfinished run"
        if self.skipped:
            line += f"; {len(self.skipped)} file(s) skipped"
        return line


def _previous(
    settings: Settings, full: bool, known: IndexData | None
) -> tuple[IndexData | None, str]:
    """The live index to reuse vectors from, or None with the reason for a full build.

    `known` is a build already in memory: used instead of reading it again when it is
    the live one and was made with these settings.
    """
    if full:
        return None, "--full asked"
    if (
        known is not None
        and known.manifest.build_id == store.current_build_id(settings.index_dir)
        and known.manifest.settings_key == compatibility_key(settings)
    ):
        return known, ""
    try:
        return store.load(settings.index_dir, expect=compatibility_key(settings)), ""
    except IndexMissingError:
        return None, "no index yet"
    except IndexMismatchError:
        return None, "model or chunking settings changed"
    except CareerQAError as exc:
        log.warning("previous index unusable, rebuilding from the corpus: %s", exc)
        return None, f"previous index unusable ({exc})"


def ingest(
    settings: Settings,
    embedder: Embedder,
    *,
    full: bool = False,
    known: IndexData | None = None,
    progress: bool | None = None,
    lock_wait: float = 30.0,
) -> IngestReport:
    """Bring the index in line with the corpus, embedding only what changed.

    `known` is the live build if the caller has it in memory. One rebuild at a
    time: another one waits up to `lock_wait` seconds for the lock, then gives up
    with IndexBusyError.
    """
    started = time.perf_counter()
    with store.rebuild_lock(settings.index_dir, wait=lock_wait):
        report = _ingest_locked(settings, embedder, full, known, progress)
    report.seconds = time.perf_counter() - started
    log.info("ingest: %s", report.summary())
    return report


@dataclass(frozen=True)
class Refreshed:
    """The index to serve, and the error that kept it from being brought up to date."""

    data: IndexData
    error: CareerQAError | None = None


def refresh_index(
    settings: Settings,
    embedder: Embedder,
    *,
    known: IndexData | None = None,
    progress: bool | None = None,
) -> Refreshed:
    """Bring the index up to date and return it; else the last good build, with the error.

    `known` is the live build already in memory (it is not read again). When the
    rebuild fails and no compatible build can be loaded either, the rebuild's error
    is raised.
    """
    try:
        report = ingest(settings, embedder, known=known, progress=progress)
    except CareerQAError as exc:
        try:
            data = known or store.load(settings.index_dir, expect=compatibility_key(settings))
        except CareerQAError as unusable:
            raise exc from unusable
        log.warning("could not refresh the index, serving the last good build: %s", exc)
        return Refreshed(data, exc)
    if report.did_change:
        log.info("index refreshed: %s", report.summary())
    if report.data is None:  # pragma: no cover - every ingest that returns sets it
        report.data = store.load(settings.index_dir, expect=compatibility_key(settings))
    return Refreshed(report.data)


def _ingest_locked(
    settings: Settings,
    embedder: Embedder,
    full: bool,
    known: IndexData | None,
    progress: bool | None,
) -> IngestReport:
    corpus = load_corpus(settings.corpus_dir, settings.index_dir / "converted")
    report = IngestReport(skipped=corpus.skipped, warnings=corpus.warnings)
    if not corpus.documents:
        raise CorpusError(
            f"no usable articles ({KINDS}) in {settings.corpus_dir} — add some and run again"
        )
    old, report.reason = _previous(settings, full, known)
    report.full = old is None
    hashes = old.manifest.documents if old else {}
    current = {d.doc_id for d in corpus.documents}
    to_embed: list[Document] = []
    for doc in corpus.documents:
        if doc.doc_id not in hashes:
            report.added.append(doc.doc_id)
            to_embed.append(doc)
        elif hashes[doc.doc_id] != doc.content_hash:
            report.changed.append(doc.doc_id)
            to_embed.append(doc)
        else:
            report.unchanged.append(doc.doc_id)
    report.removed = sorted(set(hashes) - current)
    if old is not None and not report.did_change:
        report.data = old
        _publish_unpublished(settings, old, progress)
        return report  # nothing to do: the model is never loaded

    fresh = _embed_documents(to_embed, settings, embedder, progress, report)
    report.data = data = _assemble(corpus.documents, fresh, old, settings, embedder)
    report.build_id = _save(settings, data, progress)
    Staging(settings.index_dir, compatibility_key(settings)).clear()
    return report


def _save(settings: Settings, data: IndexData, progress: bool | None) -> str:
    """Write the build and switch to it; with Milvus, its collections first, aliases after."""
    if settings.store != "milvus":
        return store.save(settings.index_dir, data)
    from .milvus import MilvusStore

    milvus = MilvusStore(settings)
    previous = store.current_build_id(settings.index_dir)
    build_id = store.save(
        settings.index_dir,
        data,
        before_switch=lambda build_id: milvus.publish(data, build_id, bool(progress)),
    )
    try:  # the build is live already: stale aliases are worth a warning, not a failure
        milvus.promote(build_id, keep={previous} if previous else set())
    except StoreError as exc:
        log.warning("build %s is live but Milvus' aliases were not moved: %s", build_id, exc)
    return build_id


def _publish_unpublished(settings: Settings, data: IndexData, progress: bool | None) -> None:
    """With the Milvus store, write a live build that Milvus lacks (store switched, or lost).

    Its vectors are in the build folder: nothing is embedded again.
    """
    if settings.store != "milvus":
        return
    from .milvus import MilvusStore

    milvus = MilvusStore(settings)
    build_id = data.manifest.build_id
    if not milvus.has(build_id):
        log.info("milvus lacks build %s: writing it from the index folder", build_id)
        milvus.publish(data, build_id, bool(progress))
        milvus.promote(build_id, keep=set())


# New or changed documents: their rows (chunks, sentences); the vectors stay in staging
# until the build is laid out, so memory holds one build's vectors, not two.
_Fresh = dict[str, tuple[int, int]]
DOCS_PER_BATCH = 64  # embedded together, then staged: memory per batch, not per corpus


def _embed_documents(
    docs: list[Document],
    settings: Settings,
    embedder: Embedder,
    progress: bool | None,
    report: IngestReport,
) -> _Fresh:
    """Clean, chunk and embed new or changed documents, a batch at a time, each one staged
    on disk once embedded; documents a killed run staged are taken from there."""
    if not docs:
        return {}  # only removals: the model is not needed
    staging = Staging(settings.index_dir, compatibility_key(settings))
    fresh: _Fresh = {}
    todo = []
    for doc in docs:
        staged = staging.get(doc.doc_id, doc.content_hash)
        if staged is None:
            todo.append(doc)
        else:
            fresh[doc.doc_id] = (len(staged.chunk_vectors), len(staged.sentence_vectors))
    report.resumed = len(fresh)
    if report.resumed:
        log.info("resuming: %d document(s) already embedded by an earlier run", report.resumed)
    if not todo:
        return fresh
    if settings.chunk_tokens > embedder.max_tokens:
        raise ModelError(
            f"chunk_tokens is {settings.chunk_tokens} but the model {embedder.name!r} reads "
            f"{embedder.max_tokens} word pieces; longer chunks would be cut — set "
            f"CAREERQA_CHUNK_TOKENS to {embedder.max_tokens} or less"
        )
    if progress is None:
        progress = sys.stderr.isatty()
    log.info("embedding %d document(s)", len(todo))
    with Progress(len(todo), progress) as bar:
        for start in range(0, len(todo), DOCS_PER_BATCH):
            batch = todo[start : start + DOCS_PER_BATCH]
            for embedded in _embed_batch(batch, settings, embedder):
                staging.put(embedded)
                sizes = (len(embedded.chunk_vectors), len(embedded.sentence_vectors))
                fresh[embedded.document.doc_id] = sizes
                report.chunks_embedded += len(embedded.chunks)
            bar.advance(len(batch), report.chunks_embedded)
    return fresh


def _embed_batch(docs: list[Document], settings: Settings, embedder: Embedder) -> list[Embedded]:
    """Clean, chunk and embed a few documents in one model call."""
    chunk_settings = ChunkSettings(settings.chunk_tokens, settings.chunk_overlap)
    prepared = []
    texts: list[str] = []
    for doc in docs:
        cleaned = clean(doc)
        chunks = chunk_document(cleaned, chunk_settings, embedder.count_tokens)
        spans = sorted({s for c in chunks for s in c.sentences})
        prepared.append((doc, cleaned, chunks, spans))
        texts.extend(c.embed_text for c in chunks)
        texts.extend(cleaned.text[a:b] for a, b in spans)
    vectors = embedder.embed(texts)
    out = []
    cursor = 0
    for doc, cleaned, chunks, spans in prepared:
        chunk_vecs = vectors[cursor : cursor + len(chunks)]
        cursor += len(chunks)
        sent_vecs = vectors[cursor : cursor + len(spans)]
        cursor += len(spans)
        position = {span: k for k, span in enumerate(spans)}
        stored_chunks = [
            StoredChunk(c, (position[c.sentences[0]], position[c.sentences[-1]] + 1))
            for c in chunks
        ]
        stored_doc = StoredDocument(
            doc_id=doc.doc_id,
            title=doc.title,
            source=doc.source,
            url=doc.url,
            content_hash=doc.content_hash,
            text=cleaned.text,
            blocks=list(cleaned.blocks),
            chunk_rows=(0, len(chunks)),
            sentence_rows=(0, len(spans)),
        )
        out.append(Embedded(stored_doc, stored_chunks, chunk_vecs, sent_vecs))
    return out


class Progress:
    """Documents embedded so far, with chunks per second and the time left: a bar on a
    terminal, else a log line every 10 % of the work."""

    def __init__(self, total: int, bar: bool):
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self.next_log = 0.1
        self._bar = tqdm(total=total, unit="doc", desc="embedding", disable=not bar)
        self._logging = not bar

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def advance(self, documents: int, chunks: int) -> None:
        self.done += documents
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = chunks / elapsed
        self._bar.set_postfix(chunks_per_s=f"{rate:.0f}", refresh=False)
        self._bar.update(documents)
        if self._logging and self.done / self.total >= self.next_log:
            eta = elapsed / self.done * (self.total - self.done)
            log.info(
                "embedded %d/%d documents, %d chunks, %.0f chunks/s, %.0f s left",
                self.done,
                self.total,
                chunks,
                rate,
                eta,
            )
            self.next_log = self.done / self.total + 0.1


def _old_sizes(old: IndexData | None, doc_id: str) -> tuple[int, int]:
    """Rows (chunks, sentences) an unchanged document has in the previous build."""
    assert old is not None
    stored = old.documents[doc_id]
    return (
        stored.chunk_rows[1] - stored.chunk_rows[0],
        stored.sentence_rows[1] - stored.sentence_rows[0],
    )


def _dimension(
    docs: list[Document],
    fresh: _Fresh,
    old: IndexData | None,
    staging: Staging,
    embedder: Embedder,
) -> int:
    """The vectors' size, read off the vectors themselves: an ingest that only took
    documents from staging (or only removed some) never loads the model."""
    if not fresh:
        return old.manifest.dimension if old else embedder.dimension
    first = next(d for d in docs if d.doc_id in fresh)
    staged = staging.get(first.doc_id, first.content_hash)
    return int(staged.chunk_vectors.shape[1]) if staged is not None else embedder.dimension


def _rows_of(
    doc: Document, is_fresh: bool, old: IndexData | None, staging: Staging
) -> tuple[Embedded, int]:
    """A document's rows for the new build, from staging (new or changed) or the previous
    build, with the first sentence row they had there (0 for staged ones)."""
    if is_fresh:
        embedded = staging.get(doc.doc_id, doc.content_hash)
        if embedded is None:
            raise IndexWriteError(f"{staging.folder} lost {doc.source} — run ingest again")
        return embedded, 0
    assert old is not None
    # A copy: the new build's rows must not change the live build's (it may stay live).
    stored = dataclasses.replace(old.documents[doc.doc_id])
    c_lo, c_hi = stored.chunk_rows
    s_lo, s_hi = stored.sentence_rows
    chunks, vectors = old.chunks[c_lo:c_hi], old.vectors[c_lo:c_hi]
    return Embedded(stored, chunks, vectors, old.sentence_vectors[s_lo:s_hi]), s_lo


def _assemble(
    docs: list[Document],
    fresh: _Fresh,
    old: IndexData | None,
    settings: Settings,
    embedder: Embedder,
) -> IndexData:
    """Lay out new and reused documents into one chunk table and vector matrices.

    The matrices are allocated once at their final size and filled a document at a
    time (new ones read back from staging), so assembling never holds two copies.
    """
    staging = Staging(settings.index_dir, compatibility_key(settings))
    dimension = _dimension(docs, fresh, old, staging, embedder)
    sizes = [fresh.get(d.doc_id) or _old_sizes(old, d.doc_id) for d in docs]
    vectors = np.empty((sum(c for c, _ in sizes), dimension), np.float32)
    sentence_vectors = np.empty((sum(s for _, s in sizes), dimension), np.float32)
    documents: dict[str, StoredDocument] = {}
    chunks: list[StoredChunk] = []
    n_sentences = 0
    for doc in docs:
        embedded, base = _rows_of(doc, doc.doc_id in fresh, old, staging)
        stored, doc_chunks = embedded.document, embedded.chunks
        chunk_vecs, sent_vecs = embedded.chunk_vectors, embedded.sentence_vectors
        shift = n_sentences - base
        chunks_here = [
            StoredChunk(c.chunk, (c.sentence_rows[0] + shift, c.sentence_rows[1] + shift))
            for c in doc_chunks
        ]
        stored.chunk_rows = (len(chunks), len(chunks) + len(chunks_here))
        stored.sentence_rows = (n_sentences, n_sentences + len(sent_vecs))
        documents[doc.doc_id] = stored
        vectors[len(chunks) : len(chunks) + len(chunks_here)] = chunk_vecs
        sentence_vectors[n_sentences : n_sentences + len(sent_vecs)] = sent_vecs
        chunks.extend(chunks_here)
        n_sentences += len(sent_vecs)
    manifest = Manifest(
        model=settings.model,
        dimension=dimension,
        settings_key=compatibility_key(settings),
        documents={d.doc_id: d.content_hash for d in docs},
        package_version=__version__,
    )
    return IndexData(
        manifest,
        documents,
        chunks,
        vectors,
        sentence_vectors,
        VectorIndex.build(vectors, dimension),
        VectorIndex.build(sentence_vectors, dimension),
    )
