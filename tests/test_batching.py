"""Micro-batching: concurrent questions share model calls and get their own vectors."""

import asyncio
import threading

import numpy as np
import pytest

from careerqa.batching import BatchingEmbedder

from .conftest import FakeEmbedder, started


class SlowFake(FakeEmbedder):
    """Holds the model busy so that questions pile up behind the first one."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed(self, texts, *, progress=False):
        self.gate.wait(5)
        return super().embed(texts, progress=progress)


def test_concurrent_questions_are_embedded_together_with_their_own_vectors():
    inner = SlowFake()
    batcher = BatchingEmbedder(inner, max_wait=0.05)
    questions = [f"question number {i} about salaries" for i in range(16)]
    results: dict[int, np.ndarray] = {}

    def ask(i):
        results[i] = batcher.embed([questions[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    inner.gate.set()
    for t in threads:
        t.join(10)
    reference = FakeEmbedder().embed(questions)
    for i in range(16):
        assert np.allclose(results[i][0], reference[i])
    assert inner.calls < 16  # fewer model calls than questions
    assert batcher.batches == inner.calls
    batcher.close()


def test_a_question_given_up_while_queued_does_not_stop_the_batcher():
    class Entered(SlowFake):
        def __init__(self) -> None:
            super().__init__()
            self.entered = threading.Event()

        def embed(self, texts, *, progress=False):
            self.entered.set()
            return super().embed(texts, progress=progress)

    inner = Entered()
    batcher = BatchingEmbedder(inner, max_wait=0.0)
    first = threading.Thread(target=batcher.embed, args=(["holds the model"],))
    first.start()
    assert inner.entered.wait(5)  # the worker is in the model; the next question queues

    async def give_up() -> None:
        task = asyncio.ensure_future(batcher.embed_async(["asked, then the client left"]))
        await asyncio.sleep(0.05)
        task.cancel()  # what a disconnect does to the request awaiting it

    asyncio.run(give_up())
    inner.gate.set()
    first.join(10)
    later: list[np.ndarray] = []
    asker = threading.Thread(target=lambda: later.append(batcher.embed(["still answered?"])))
    asker.start()
    asker.join(10)
    assert later and later[0].shape == (1, inner.dimension)
    batcher.close()


def test_a_lone_question_is_answered_without_waiting():
    inner = FakeEmbedder()
    batcher = BatchingEmbedder(inner, max_wait=5.0)  # a wait would show as a hang
    out = batcher.embed(["just me"])
    assert out.shape == (1, inner.dimension) and inner.calls == 1
    batcher.close()


def test_model_errors_reach_every_waiting_caller():
    class Broken(FakeEmbedder):
        def embed(self, texts, *, progress=False):
            raise RuntimeError("model exploded")

    batcher = BatchingEmbedder(Broken())
    with pytest.raises(RuntimeError, match="exploded"):
        batcher.embed(["a question"])
    batcher.close()


def test_bulk_work_bypasses_the_queue():
    inner = FakeEmbedder()
    batcher = BatchingEmbedder(inner, max_batch=4)
    assert batcher.embed([f"t{i}" for i in range(10)]).shape == (10, inner.dimension)
    assert batcher.batches == 0
    batcher.close()


def test_a_closed_batcher_refuses_instead_of_hanging():
    batcher = BatchingEmbedder(FakeEmbedder())
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.embed(["anyone there?"])


def test_an_app_started_twice_still_answers(settings, fake):
    from careerqa.app import create_app

    app = create_app(settings.model_copy(update={"abstain_threshold": -1.0}), fake)
    for _ in range(2):  # lifespan runs, ends, runs again on the same app object
        with started(app) as client:
            r = client.post("/ask", json={"question": "junior pay"})
            assert r.status_code == 200
