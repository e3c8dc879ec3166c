"""A real uvicorn server on 127.0.0.1 answering concurrent requests while the corpus changes."""

import threading
import time

import httpx

from careerqa.app import create_app

from .builders import make_pdf
from .conftest import LiveServer, run_cli

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
