"""Keeping the served index current: load, swap atomically, rebuild, watch the corpus."""

from __future__ import annotations

import gc
import logging
import threading

from . import store
from .assistant import Assistant
from .batching import BatchingEmbedder
from .embedding import Embedder
from .errors import CareerQAError
from .ingest import IngestReport, ingest, refresh_index
from .manifest import compatibility_key
from .settings import Settings
from .store import IndexData

log = logging.getLogger(__name__)

_WARM_UP = "How much does a machine learning engineer earn in their first job after a bootcamp?"


def _freeze_heap() -> None:
    """Take what exists now (the index just loaded, the model, the modules) out of GC's way.

    A full collection walks every object: 43 ms with the corpus loaded, paid by
    whichever request sets it off, a p99 spike. After one last collection (so no
    cyclic garbage is frozen for good), the survivors are frozen; they are still
    freed by reference counting — a swapped-out index is (tested) — and
    collections then walk only what requests create.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class IndexHolder:
    """Holds the live Assistant; a new build replaces it in one reference assignment.

    A request takes `holder.assistant` once and uses that object to the end, so
    requests in flight finish on the old index while new ones see the new.
    """

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder  # ingest: large batches, straight to the model
        # Questions: batched together across requests; the assistants' embedder.
        self.batcher = BatchingEmbedder(embedder, max_batch=settings.question_batch)
        self.assistant: Assistant | None = None
        self.last_error: str | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def startup(self) -> None:
        """Bring the index up to date with the corpus (where possible) and load it."""
        self.batcher.start()  # again, when the app is started after a shutdown
        self._stop = threading.Event()
        self._threads = []
        try:
            refreshed = refresh_index(self.settings, self.embedder)
        except CareerQAError as exc:
            self.last_error = f"rebuild failed: {exc}"
            log.error("could not build the index: %s", exc)
            return
        if refreshed.error is not None:
            self.last_error = f"rebuild failed: {refreshed.error}"
        if not self.refresh(refreshed.data):
            return
        # Load the model, and size its memory for a full batch of question-length
        # texts now rather than during the first burst of questions.
        self.embedder.embed([_WARM_UP] * self.settings.question_batch)

    def refresh(self, data: IndexData | None = None) -> bool:
        """Serve the live build if it is not the one being served. True if it swapped.

        `data` is that build already in memory (from an ingest in this process).
        """
        with self._reload_lock:
            build_id = (
                data.manifest.build_id if data else store.current_build_id(self.settings.index_dir)
            )
            if build_id is None or (self.assistant and self.assistant.build_id == build_id):
                return False
            try:
                if data is None:
                    data = store.load(
                        self.settings.index_dir, expect=compatibility_key(self.settings)
                    )
                fresh = Assistant.from_data(self.settings, self.batcher, data)
            except CareerQAError as exc:
                self.last_error = f"could not load build {build_id}: {exc}"
                log.error("%s; still serving the previous index", self.last_error)
                return False
            self.assistant = fresh
            log.info("serving index build %s", fresh.build_id)
            _freeze_heap()
            return True

    def rebuild(self, *, full: bool = False) -> IngestReport:
        """Run an incremental ingest and swap the result in."""
        try:
            report = ingest(self.settings, self.embedder, full=full, progress=False)
        except CareerQAError as exc:
            self.last_error = f"rebuild failed: {exc}"
            raise
        self.last_error = None
        self.refresh(report.data)
        return report

    def start(self, *, watch: bool = False, poll_interval: float = 1.0) -> None:
        """Poll for builds made by other processes (`careerqa ingest`); optionally watch."""
        self._spawn("index-poller", lambda: self._poll(poll_interval))
        if watch:
            self._spawn("corpus-watcher", self._watch)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.batcher.close()

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the poller must outlive any one bad read
                log.exception("index poll failed")

    def _watch(self) -> None:
        from watchfiles import watch

        corpus = self.settings.corpus_dir
        log.info("watching %s for changes", corpus)
        try:
            for changes in watch(corpus, stop_event=self._stop, debounce=500, step=100):
                log.info("corpus changed (%d file events); rebuilding", len(changes))
                try:
                    report = self.rebuild()
                    log.info("rebuild: %s", report.summary())
                except CareerQAError as exc:
                    log.error("rebuild failed, still serving the previous index: %s", exc)
        except FileNotFoundError:
            self.last_error = f"cannot watch {corpus}: it does not exist"
            log.error(self.last_error)
