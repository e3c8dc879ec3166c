"""Micro-batching: questions that arrive together are embedded in one model call.

On two cores, sixteen threads each running the model fight over the CPU; one
worker embedding whatever has queued up does the same work in fewer, larger
calls, so throughput grows with concurrency. A lone question never waits.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from .embedding import Embedder

log = logging.getLogger(__name__)

# The texts, their future, and the embedder that embeds them (a build's own, or inner).
_Item = tuple[list[str], "Future[np.ndarray]", Embedder]


class _Front:
    """An Embedder whose calls go through a batcher's queue; bulk work goes straight
    to the embedder. Plus `embed_async`, which the assistant awaits."""

    batcher: BatchingEmbedder
    inner: Embedder

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if progress or len(texts) > self.batcher.max_batch:
            return self.inner.embed(texts, progress=progress)  # bulk work goes straight through
        return self.batcher._submit(texts, self.inner).result()

    async def embed_async(self, texts: list[str]) -> np.ndarray:
        """The same, awaited: the event loop stays free while the model works."""
        return await asyncio.wrap_future(self.batcher._submit(texts, self.inner))


class BatchingEmbedder(_Front):
    """Wraps an embedder; `embed` may be called from many threads at once."""

    def __init__(self, inner: Embedder, *, max_batch: int = 32, max_wait: float = 0.002):
        self.batcher = self
        self.inner = inner
        self.name = inner.name
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.batches = 0  # model calls made, for tests and benchmarks
        self.closed = True
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Submitting and closing each check `closed` and queue as one step, so no
        # question can land behind the stop marker and wait forever.
        self._lock = threading.Lock()
        self.start()

    def start(self) -> None:
        """Start the worker; after `close`, start a new one (an app started again)."""
        if not self.closed:
            return
        self._queue = queue.SimpleQueue()
        # The worker gets its own queue: one still finishing after `close` never
        # takes questions meant for its successor.
        self._thread = threading.Thread(
            target=self._run, args=(self._queue,), name="embed-batcher", daemon=True
        )
        self.closed = False
        self._thread.start()

    def _submit(self, texts: list[str], embedder: Embedder) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        with self._lock:
            if self.closed:
                raise RuntimeError("the embedding batcher is closed")
            self._queue.put((texts, future, embedder))
        return future

    def through(self, embedder: Embedder) -> Through:
        """This batcher's queue and worker, with questions embedded by `embedder` (a
        build's adapted question encoder): questions of builds served side by side
        during a swap are batched with their own build's."""
        return Through(self, embedder)

    def close(self) -> None:
        """Stop the worker once the questions already queued are answered."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _collect(self, jobs: queue.SimpleQueue[_Item | None], first: _Item) -> list[_Item]:
        batch, size = [first], len(first[0])
        deadline: float | None = None
        while size < self.max_batch:
            try:
                item = jobs.get_nowait()
            except queue.Empty:
                if len(batch) == 1:
                    break  # nobody else is asking: answer at once
                # Others are asking right now; a moment's wait lets stragglers join.
                deadline = deadline or time.perf_counter() + self.max_wait
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    item = jobs.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                jobs.put(None)  # let the run loop see the stop after this batch
                break
            batch.append(item)
            size += len(item[0])
        return batch

    def _run(self, jobs: queue.SimpleQueue[_Item | None]) -> None:
        while True:
            first = jobs.get()
            if first is None:
                return
            # A caller that gave up while queued (a client gone: its awaiting task is
            # cancelled, and the future with it) is skipped; the others can no longer be
            # cancelled, so their results always land.
            batch = [
                job for job in self._collect(jobs, first) if job[1].set_running_or_notify_cancel()
            ]
            if not batch:
                continue
            groups: dict[int, list[_Item]] = {}
            for job in batch:
                groups.setdefault(id(job[2]), []).append(job)
            for group in groups.values():
                self._embed(group)

    def _embed(self, batch: list[_Item]) -> None:
        """One model call for questions that share an embedder."""
        texts = [t for item, _, _ in batch for t in item]
        try:
            vectors = batch[0][2].embed(texts)
        except Exception as exc:
            self._one_by_one(batch, exc)
            return
        self.batches += 1
        cursor = 0
        for item, future, _ in batch:
            future.set_result(vectors[cursor : cursor + len(item)])
            cursor += len(item)

    def _one_by_one(self, batch: list[_Item], exc: Exception) -> None:
        """A batch failed: embed each request alone, so only the one at fault fails."""
        if len(batch) == 1:
            batch[0][1].set_exception(exc)
            return
        log.warning(
            "a batch of %d questions failed (%s); embedding them one by one", len(batch), exc
        )
        for texts, future, embedder in batch:
            try:
                future.set_result(embedder.embed(texts))
                self.batches += 1
            except Exception as alone:
                future.set_exception(alone)


class Through(_Front):
    """A batcher's queue with another embedder (`BatchingEmbedder.through`)."""

    def __init__(self, batcher: BatchingEmbedder, embedder: Embedder):
        self.batcher = batcher
        self.inner = embedder
        self.name = embedder.name
