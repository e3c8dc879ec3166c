"""Ingesting the corpus: clean, chunk, embed what changed, and switch the index.

`refresh_index` is what the CLI and the server call to get an index to serve:
an incremental ingest (no model load when nothing changed), or the last good
build when the rebuild fails.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import __version__, adapting, store
from .chunking import ChunkSettings, chunk_document
from .cleaning import clean
from .corpus import KINDS, Document, load_corpus, with_text
from .embedding import Embedder, SentenceTransformerEmbedder, resolve_model
from .errors import (
    CareerQAError,
    CorpusError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
    ModelError,
    StoreError,
)
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
    questions: str = ""  # "adapted" when the new build has its own question encoder
    seconds: float = 0.0
    # The live index afterwards: the one loaded here when nothing changed, else the new
    # build, opened on first use (without checksumming the files just written). An ingest
    # from the command line never reads its build back.
    _data: IndexData | None = field(default=None, repr=False)
    _index_dir: Path | None = field(default=None, repr=False)

    @property
    def data(self) -> IndexData:
        if self._data is None:
            if self.build_id is None or self._index_dir is None:
                raise IndexMissingError("this ingest made no build")
            self._data = store.open_build(self._index_dir, self.build_id)
        return self._data

    @property
    def did_change(self) -> bool:
        return bool(self.added or self.changed or self.removed) or self.build_id is not None

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.changed)} changed",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
        ]
        line = ", ".join(parts) + f"; {self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"
        if self.questions == "adapted":
            line += "; questions adapted to the corpus"
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
    return Refreshed(report.data)


def _adapts(settings: Settings, embedder: Embedder, old: IndexData) -> bool:
    """Whether an unchanged build is laid out again to adapt its questions: one made
    before adaptation existed. Its rows are copied; nothing is embedded again."""
    return _model_to_adapt(settings, embedder) is not None and old.manifest.questions == ""


def _model_to_adapt(settings: Settings, embedder: Embedder) -> Path | None:
    """The shared model's folder when questions are to be adapted: adaptation trains
    the model itself, so it must be a local sentence-transformers folder."""
    if not settings.adapt_questions or not isinstance(embedder, SentenceTransformerEmbedder):
        return None
    folder = Path(resolve_model(settings.model))
    return folder if folder.is_dir() else None


def _conversions(settings: Settings) -> Path:
    """Where converted web pages, PDFs and Word files are kept by hash (corpus.py)."""
    return settings.index_dir / "converted"


def _ingest_locked(
    settings: Settings,
    embedder: Embedder,
    full: bool,
    known: IndexData | None,
    progress: bool | None,
) -> IngestReport:
    # Texts are read again a batch at a time when embedded: the listing holds none.
    corpus = load_corpus(settings.corpus_dir, _conversions(settings), texts=False)
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
        if not _adapts(settings, embedder, old):
            report._data = old
            _publish_unpublished(settings, old, progress)
            return report  # nothing to do: the model is never loaded
        report.reason = "questions not yet adapted to the corpus"

    fresh = _embed_documents(to_embed, settings, embedder, progress, report)
    report.build_id, report.questions = _lay_out(
        corpus.documents, fresh, old, settings, embedder, progress
    )
    report._index_dir = settings.index_dir
    Staging(settings.index_dir, compatibility_key(settings)).clear()
    return report


def _publish(
    settings: Settings, build: store.BuildWriter, manifest: Manifest, progress: bool | None
) -> str:
    """Make the build live; with Milvus, its collections first, aliases after."""
    if settings.store != "milvus":
        return build.publish(manifest)
    from .milvus import MilvusStore

    milvus = MilvusStore(settings)
    previous = store.current_build_id(settings.index_dir)
    build_id = build.publish(
        manifest,
        before_switch=lambda build_id: milvus.publish(
            settings.index_dir / build_id, build_id, bool(progress)
        ),
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
        milvus.publish(settings.index_dir / build_id, build_id, bool(progress))
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
    for listed in docs:
        doc = with_text(listed, _conversions(settings))
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
    stored = old.documents[doc.doc_id]
    c_lo, c_hi = stored.chunk_rows
    s_lo, s_hi = stored.sentence_rows
    chunks, vectors = old.chunks[c_lo:c_hi], old.vectors[c_lo:c_hi]
    return Embedded(stored, chunks, vectors, old.sentence_vectors[s_lo:s_hi]), s_lo


def _lay_out(
    docs: list[Document],
    fresh: _Fresh,
    old: IndexData | None,
    settings: Settings,
    embedder: Embedder,
    progress: bool | None,
) -> tuple[str, str]:
    """Write the new build a document at a time (new ones read back from staging,
    unchanged ones from the previous build), adapt its question encoder, and make it
    live. Returns its id and how its questions are embedded.

    Each document's rows go straight to the build's files: memory holds one document's
    vectors, not the build's.
    """
    staging = Staging(settings.index_dir, compatibility_key(settings))
    dimension = _dimension(docs, fresh, old, staging, embedder)
    sizes = [fresh.get(d.doc_id) or _old_sizes(old, d.doc_id) for d in docs]
    chunks, sentences = sum(c for c, _ in sizes), sum(s for _, s in sizes)
    manifest = Manifest(
        model=settings.model,
        dimension=dimension,
        settings_key=compatibility_key(settings),
        documents={d.doc_id: d.content_hash for d in docs},
        package_version=__version__,
    )
    log.info(
        "writing the build: %d documents, %d chunks, %d sentences", len(docs), chunks, sentences
    )
    model = _model_to_adapt(settings, embedder)
    pairs = adapting.Pairs()
    with store.BuildWriter(settings.index_dir, chunks, sentences, dimension) as build:
        for doc in docs:
            embedded, first_sentence = _rows_of(doc, doc.doc_id in fresh, old, staging)
            build.add(
                embedded.document,
                embedded.chunks,
                embedded.chunk_vectors,
                embedded.sentence_vectors,
                first_sentence,
            )
            if model is not None:
                pairs.add(adapting.pairs_of(embedded.document, embedded.chunks))
        adapted = model is not None and adapting.adapt(pairs, model, build.folder, settings.device)
        manifest.questions = "adapted" if adapted else "shared"
        return _publish(settings, build, manifest, progress), manifest.questions
