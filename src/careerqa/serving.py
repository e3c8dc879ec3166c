"""Keeping the served index current: load, swap atomically, rebuild, watch the corpus."""

from __future__ import annotations

import gc
import logging
import re
import threading
from collections.abc import Callable

from . import store
from .assistant import Assistant
from .batching import BatchingEmbedder
from .embedding import Embedder
from .errors import CareerQAError, IndexBusyError
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


def _rebuild_failure(error: CareerQAError | None) -> str | None:
    """What /readyz reports of a start-up rebuild's error. Another process holding the
    rebuild lock (a worker of the same server) is none: polling serves its build."""
    if isinstance(error, IndexBusyError):
        log.info("%s; serving its build when it is done", error)
        return None
    return f"rebuild failed: {error}" if error else None


class IndexHolder:
    """Holds the live Assistant; a new build replaces it in one reference assignment.

    A request takes `holder.assistant` once and uses that object to the end, so
    requests in flight finish on the old index while new ones see the new.
    Start-up serves the last good build at once and brings it up to date with the
    corpus in a background thread, so the server listens (and stops on SIGTERM)
    however long that takes.
    """

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder  # ingest: large batches, straight to the model
        # Questions: batched together across requests; the assistants' embedder.
        self.batcher = BatchingEmbedder(embedder, max_batch=settings.question_batch)
        self.assistant: Assistant | None = None
        self.rebuilding = False
        self._last_error: str | None = None
        self._failed_build: str | None = None  # a build that would not load: not retried
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._started = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def last_error(self) -> str | None:
        """The last failure, as shown to anyone: file paths reduced to their names."""
        return _without_paths(self._last_error) if self._last_error else None

    @last_error.setter
    def last_error(self, message: str | None) -> None:
        self._last_error = message

    def startup(self) -> None:
        """Serve the last good build now; bring the index up to date in the background."""
        self.batcher.start()  # again, when the app is started after a shutdown
        self._stop = threading.Event()
        self._started = threading.Event()
        self._threads = []
        self.refresh()
        self.rebuilding = True
        self._spawn("index-startup", self._bring_up_to_date)

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until start-up's rebuild has finished (or failed). True if it did in time."""
        return self._started.wait(timeout)

    def _bring_up_to_date(self) -> None:
        current = self.assistant
        try:
            refreshed = refresh_index(
                self.settings,
                self.embedder,
                known=current.data if current else None,
                progress=False,
            )
        except CareerQAError as exc:
            self.last_error = _rebuild_failure(exc)
            if self.last_error:
                log.error("could not build the index: %s", exc)
            return
        else:
            self.last_error = _rebuild_failure(refreshed.error)
            self.refresh(refreshed.data)
        finally:
            self.rebuilding = False
            self._started.set()
        if self.assistant is not None and not self._stop.is_set():
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
            if data is None and build_id == self._failed_build:
                return False  # said once already; a new build will have another id
            try:
                if data is None:
                    data = store.load(
                        self.settings.index_dir, expect=compatibility_key(self.settings)
                    )
                fresh = Assistant.from_data(self.settings, self.batcher, data)
            except CareerQAError as exc:
                self._failed_build = build_id
                self.last_error = f"could not load build {build_id}: {exc}"
                log.error("%s; still serving the previous index", self._last_error)
                return False
            self.assistant = fresh
            log.info("serving index build %s", fresh.build_id)
            _freeze_heap()
            return True

    def rebuild(self, *, full: bool = False) -> IngestReport:
        """Run an incremental ingest and swap the result in."""
        current = self.assistant
        self.rebuilding = True
        try:
            report = ingest(
                self.settings,
                self.embedder,
                full=full,
                known=current.data if current else None,
                progress=False,
            )
        except CareerQAError as exc:
            self.last_error = f"rebuild failed: {exc}"
            raise
        finally:
            self.rebuilding = False
        self.last_error = None
        self.refresh(report.data)
        return report

    def start(self, *, watch: bool = False, poll_interval: float = 1.0) -> None:
        """Poll for builds made by other processes (`careerqa ingest`); optionally watch."""
        self._spawn("index-poller", lambda: self._poll(poll_interval))
        if watch:
            self._spawn("corpus-watcher", self._watch)

    def stop(self) -> None:
        """Stop the background threads and the batcher, without waiting for a rebuild.

        A rebuild still running is left to die with the process: builds are written
        aside and switched atomically, so that is as safe as a SIGKILL (tested).
        """
        self._stop.set()
        for thread in self._threads:
            if thread.name != "index-startup":
                thread.join(timeout=2)
        self.batcher.close()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
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
            log.error(self._last_error)


# An absolute path: a slash, then folders, then the last name (kept).
_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"()]+/)+([^\s/'\"()]*)")


def _without_paths(message: str) -> str:
    """A message for anyone to read: absolute paths cut to their last name."""
    return _PATH.sub(lambda m: m.group(1) or "/", message)
