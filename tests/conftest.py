"""Shared fixtures: a tiny corpus, settings pointing into tmp_path, a fake embedder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from careerqa.milvus import is_lite
from careerqa.settings import Settings

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).parent / "data"
# The fields of the /ask response and of its citations (docs/architecture.md, the contract).
ANSWER_FIELDS = {
    "question",
    "answer",
    "answered",
    "citations",
    "mode",
    "reason",
    "unsupported",
    "took_ms",
}
# The fields of a citation in the /ask response (docs/architecture.md, the /ask contract).
CITATION_FIELDS = {
    "n",
    "doc_id",
    "title",
    "source",
    "heading",
    "text",
    "start",
    "end",
    "score",
    "url",
    "page",
}
REPO = Path(__file__).parent.parent
# The suite also runs with CAREERQA_STORE=milvus (CI: against a Milvus Lite server). A
# Milvus Lite *file* serves one process; tests that write from a second process need a
# server URI.
MILVUS = os.environ.get("CAREERQA_STORE") == "milvus"
MILVUS_FILE = MILVUS and is_lite(os.environ.get("CAREERQA_MILVUS_URI", ""))


@pytest.fixture(autouse=True)
def _own_milvus_collections(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """With the Milvus store, each test's collections under a prefix of its own."""
    if MILVUS:
        digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
        monkeypatch.setenv("CAREERQA_MILVUS_PREFIX", f"t{digest}")


@pytest.fixture(autouse=True, scope="session")
def _milvus_cleanup():
    """After the session: drop the tests' collections, close the clients. (Not after each
    test: module-scoped assistants keep searching their collections across tests.)"""
    yield
    try:
        from careerqa import milvus
    except ImportError:  # pragma: no cover - without the milvus extra
        return
    for client in list(milvus._clients.values()):
        with contextlib.suppress(Exception):
            for name in client.list_collections():
                if re.match(r"t[0-9a-f]{12}_", name):
                    client.drop_collection(name)
    milvus.release_all()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `careerqa` child process working on these settings' folders."""
    return {
        **os.environ,
        "CAREERQA_CORPUS_DIR": str(settings.corpus_dir),
        "CAREERQA_INDEX_DIR": str(settings.index_dir),
        "CAREERQA_DATA_DIR": str(settings.data_dir),
        **extra,
    }


def run_cli(
    settings: Settings, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m careerqa ARGS` in a child process; its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "careerqa", *args],
        env=cli_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(settings: Settings, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """`python -m careerqa ARGS` started in the background, its output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "careerqa", *args],
        env=cli_env(settings, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def started(app, **client_options):
    """A TestClient whose app has finished start-up's background rebuild."""
    from fastapi.testclient import TestClient

    with TestClient(app, **client_options) as client:
        assert app.state.holder.wait_started(60), "start-up rebuild did not finish in 60 s"
        yield client


class FakeEmbedder:
    """Deterministic bag-of-words hashing: fast, offline, and it counts its work."""

    name = "fake"
    dimension = 64
    max_tokens = 256

    def __init__(self) -> None:
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(re.findall(r"\w+|[^\w\s]", t)) + 2 for t in texts]


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(DATA / "corpus", target)
    return target


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    return Settings(
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        model="fake",
    )


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2, loaded once for the session."""
    from careerqa.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_ok(url: str, seconds: float, pause: float = 0.2) -> bool:
    """Wait until GET `url` is 200 (True) or `seconds` have passed (False)."""
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(pause)
    return False


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a thread, for HTTP and browser tests."""

    def __init__(self, app) -> None:
        import threading

        import uvicorn

        from careerqa.server import bind, configure

        sock = bind("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # The server careerqa serve runs: bounded protocol, limits from the app's settings.
        settings = app.state.settings
        config = configure(
            app,
            max_connections=settings.max_connections,
            request_timeout=settings.request_timeout,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        if answers_ok(self.url + "/readyz", 60, pause=0.1):
            return self
        raise RuntimeError("server did not become ready in 60 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
