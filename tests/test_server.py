"""A real uvicorn server on 127.0.0.1 answering concurrent requests while the corpus changes."""

import signal
import threading
import time

import httpx
import psutil
import pytest

from careerqa.app import create_app

from .builders import make_pdf
from .conftest import MILVUS_FILE, LiveServer, free_port, run_cli, start_cli

CLIENTS = 8
MAX_REQUESTS = 600  # bounded in count …
MAX_SECONDS = 120  # … and in time
QUESTIONS = [
    "How much do junior data engineers earn?",
    "Which cloud platforms do pipelines run on?",
    "What makes a good portfolio?",
    "Which cities pay the most?",
]


class Load:
    """Clients asking in a loop until stopped; every response is counted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]
        self.started = time.monotonic()

    def _client(self, i: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            n = 0
            while not self.stop.is_set() and time.monotonic() - self.started < MAX_SECONDS:
                with self.lock:
                    if self.ok + len(self.failures) >= MAX_REQUESTS:
                        return
                q = QUESTIONS[(i + n) % len(QUESTIONS)]
                n += 1
                try:
                    r = http.post("/ask", json={"question": q})
                    good = r.status_code == 200 and "answer" in r.json()
                    problem = f"{r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as exc:
                    good, problem = False, repr(exc)
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(problem)

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def _wait_for(predicate, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _ready(url):
    return httpx.get(url + "/readyz", timeout=10).json()


@pytest.mark.skipif(MILVUS_FILE, reason="a Milvus Lite file is held by one process")
def test_swaps_index_under_load_without_failing_requests(settings, real_embedder, corpus_dir):
    settings = settings.model_copy(
        update={"model": "bundled:all-MiniLM-L6-v2", "admin_token": "tok"}
    )
    app = create_app(settings, real_embedder, poll_interval=0.2)
    with LiveServer(app) as server, Load(server.url) as load:
        first = _ready(server.url)["build_id"]

        # 1. `careerqa ingest` in another process while the server runs.
        (corpus_dir / "lisbon.txt").write_text(
            "Remote Work\n\nData engineers in Lisbon often work remotely for companies abroad.\n"
        )
        done = run_cli(settings, "ingest")
        assert done.returncode == 0, done.stderr
        assert "1 added" in done.stdout
        assert _wait_for(lambda: _ready(server.url)["build_id"] != first)
        second = _ready(server.url)
        assert second["documents"] == 4

        # 2. POST /reindex.
        (corpus_dir / "skills.txt").unlink()
        r = httpx.post(
            server.url + "/reindex", headers={"Authorization": "Bearer tok"}, timeout=300
        )
        assert r.status_code == 200 and r.json()["removed"] == ["skills"]
        assert _ready(server.url)["documents"] == 3

        time.sleep(1.0)  # keep asking on the newest build for a moment
    assert load.failures == []
    assert load.ok >= CLIENTS  # the load really ran


def test_watch_rebuilds_when_corpus_changes(settings, real_embedder, corpus_dir):
    settings = settings.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    app = create_app(settings, real_embedder, watch=True, poll_interval=0.2)
    with LiveServer(app) as server:
        first = _ready(server.url)
        with Load(server.url) as load:
            (corpus_dir / "porto.md").write_text(
                "# Working in Porto\n\nData engineers in Porto earn about €40,000 a year.\n"
            )
            assert _wait_for(lambda: _ready(server.url)["documents"] == first["documents"] + 1)
            (corpus_dir / "porto.md").unlink()
            assert _wait_for(lambda: _ready(server.url)["documents"] == first["documents"])
            (corpus_dir / "handbook.pdf").write_bytes(make_pdf())  # every format is watched
            assert _wait_for(lambda: _ready(server.url)["documents"] == first["documents"] + 1)
        assert load.failures == [] and load.ok > 0


def test_answers_come_from_the_new_build(settings, real_embedder, corpus_dir):
    settings = settings.model_copy(
        update={"model": "bundled:all-MiniLM-L6-v2", "admin_token": "tok"}
    )
    with LiveServer(create_app(settings, real_embedder)) as server:
        (corpus_dir / "lisbon.txt").write_text(
            "Remote Work\n\nData engineers in Lisbon often work remotely for companies abroad.\n"
        )
        httpx.post(server.url + "/reindex", headers={"Authorization": "Bearer tok"}, timeout=300)
        body = httpx.post(
            server.url + "/ask",
            json={"question": "Do data engineers in Lisbon work remotely?"},
            timeout=30,
        ).json()
        assert body["answered"] and "Lisbon" in body["answer"]
        assert body["citations"][0]["doc_id"] == "lisbon"


def test_workers_share_the_port_and_all_serve_each_new_build(settings, corpus_dir):
    """`serve --workers 2`: two processes answer on one port; a build made by another
    process is what every worker serves next. With Milvus through a server URI, the
    workers search Milvus; a Milvus Lite file serves one process, so there the
    embedded store."""
    settings = settings.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    env = {"CAREERQA_STORE": "embedded"} if MILVUS_FILE else {}
    assert run_cli(settings, "ingest", **env).returncode == 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_cli(settings, "serve", "--port", str(port), "--workers", "2", **env)
    try:
        assert _wait_for(lambda: _try_ready(url).get("ready") is True, 120)
        workers = psutil.Process(server.pid).children(recursive=True)
        assert len([p for p in workers if "spawn_main" in " ".join(p.cmdline())]) == 2
        first = _try_ready(url)["build_id"]
        r = httpx.post(url + "/ask", json={"question": QUESTIONS[0]}, timeout=60)
        assert r.status_code == 200 and r.json()["answered"]

        (corpus_dir / "lisbon.txt").write_text(
            "Remote Work\n\nData engineers in Lisbon often work remotely for companies abroad.\n"
        )
        assert run_cli(settings, "ingest", **env).returncode == 0

        def all_new() -> bool:  # fresh connections, spread over the workers by the kernel
            seen = {_try_ready(url, fresh=True).get("build_id") for _ in range(12)}
            return first not in seen and None not in seen

        assert _wait_for(all_new, 30)
        r = httpx.post(url + "/ask", json={"question": "Where do engineers in Lisbon work?"})
        assert "lisbon" in r.json()["answer"].lower()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=20)  # the workers end with their parent
    assert [p for p in alive if _running(p)] == []


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _try_ready(url: str, fresh: bool = False) -> dict:
    try:
        headers = {"Connection": "close"} if fresh else {}
        return httpx.get(url + "/readyz", timeout=10, headers=headers).json()
    except httpx.HTTPError:
        return {}
