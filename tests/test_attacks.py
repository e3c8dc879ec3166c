"""Attacks from outside, one test (or a few) per finding: none may hurt another user."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from careerqa import store
from careerqa.app import create_app
from careerqa.batching import BatchingEmbedder
from careerqa.ingest import ingest
from careerqa.security import MAX_BODY_BYTES
from careerqa.server import MAX_HEADER_BYTES, MAX_HEADERS

from .conftest import FakeEmbedder, LiveServer, cli_env, run_cli, started

ASK = {"question": "How much do junior data engineers earn?"}


def _post_raw(client, body: bytes):
    return client.post("/ask", content=body, headers={"content-type": "application/json"})


# 1. Links in the corpus are never followed outside it ------------------------------


def test_a_link_to_a_secret_is_not_served(settings, fake, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (settings.corpus_dir / "passwd.txt").symlink_to(secret)
    report = ingest(settings, fake)
    assert ("passwd.txt", "a link to a file outside the corpus folder") in report.skipped
    with started(create_app(settings, fake)) as client:
        assert client.get("/sources/passwd").status_code == 404
        answer = client.post("/ask", json={"question": "root bin bash"}).json()
        assert all("root:x" not in c["text"] for c in answer["citations"])


# 2. One poisoned request fails alone ----------------------------------------------


class PoisonableFake(FakeEmbedder):
    """Fails a whole call when any text holds POISON, as a tokenizer does on bad input."""

    def embed(self, texts, *, progress=False):
        if any("POISON" in t for t in texts):
            raise ValueError("cannot encode this text")
        time.sleep(0.005)  # long enough for concurrent questions to share calls
        return super().embed(texts, progress=progress)


def test_a_text_the_model_cannot_encode_fails_alone_in_its_batch():
    batcher = BatchingEmbedder(PoisonableFake(), max_wait=0.02)
    texts = [f"question {i} about pay" for i in range(40)] + [f"POISON {i}" for i in range(5)]
    with ThreadPoolExecutor(max_workers=45) as pool:
        futures = [pool.submit(batcher.embed, [t]) for t in texts]
        outcomes = [f.exception(timeout=10) for f in futures]
    batcher.close()
    assert [o is None for o in outcomes] == [True] * 40 + [False] * 5
    assert batcher.batches < 45  # questions were still batched together


def test_lone_surrogates_are_refused_and_do_not_fail_other_requests(settings, fake):
    settings = settings.model_copy(update={"abstain_threshold": -1.0})
    poison = b'{"question": "degree \\ud800"}'
    with LiveServer(create_app(settings, fake)) as server:

        def one(n: int) -> int:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                if n % 9 == 0:
                    r = http.post(
                        "/ask", content=poison, headers={"content-type": "application/json"}
                    )
                    assert "U+D800" in r.text
                    return -r.status_code
                return http.post("/ask", json=ASK).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(one, range(45)))
    assert sorted(set(codes)) == [-422, 200]
    assert codes.count(200) == 40  # every normal request answered


# 3. Values that cannot be written as JSON get 422, not 500 ------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "x", "top_k": NaN}',
        b'{"question": "x", "top_k": Infinity}',
        b'{"question": Infinity}',
        b'{"question": -Infinity, "top_k": 3}',
        b'{"question": "x", "history": [{"role": "user", "content": "a \\udfff"}]}',
        b'{"question": "x", "history": [{"role": "user", "content": NaN}]}',
        b'{"question": "x\\ufffe"}',
    ],
)
def test_unwritable_values_get_422(settings, fake, body):
    with started(create_app(settings, fake), raise_server_exceptions=False) as client:
        r = _post_raw(client, body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]  # says what is wrong, as JSON


# 4. Connections are bounded --------------------------------------------------------


@pytest.fixture
def bounded_server(settings, fake):
    settings = settings.model_copy(
        update={"max_connections": 8, "request_timeout": 1.0, "abstain_threshold": -1.0}
    )
    with LiveServer(create_app(settings, fake)) as server:
        yield server


def _reply(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except (TimeoutError, ConnectionResetError):
        return b""


def test_connections_over_the_cap_are_refused_at_once_with_json(bounded_server):
    held = [socket.create_connection(("127.0.0.1", bounded_server.port)) for _ in range(8)]
    try:
        extra = socket.create_connection(("127.0.0.1", bounded_server.port))
        reply = _reply(extra)
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"x-content-type-options: nosniff" in head
        assert "limit of 8 connections" in json.loads(body)["detail"]
    finally:
        for sock in held:
            sock.close()


def test_idle_connections_are_closed_after_the_request_timeout(bounded_server):
    idle = [socket.create_connection(("127.0.0.1", bounded_server.port)) for _ in range(8)]
    replies = [_reply(sock) for sock in idle]  # the server closes them within 1 s
    assert all(r.startswith(b"HTTP/1.1 408") for r in replies)
    for sock in idle:
        sock.close()
    assert httpx.get(bounded_server.url + "/healthz").status_code == 200


def test_an_endless_header_is_cut_off_while_others_are_answered(bounded_server):
    attacker = socket.create_connection(("127.0.0.1", bounded_server.port))
    attacker.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent, codes = 0, []
    with httpx.Client(base_url=bounded_server.url, timeout=10) as http:
        try:
            while sent < 4 * MAX_HEADER_BYTES:
                attacker.sendall(b"a" * 4096)
                sent += 4096
                codes.append(http.post("/ask", json=ASK).status_code)
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert _reply(attacker).startswith(b"HTTP/1.1 431")
    assert codes and set(codes) == {200}


def test_headers_under_the_limit_pass_when_they_arrive_in_pieces(bounded_server):
    sock = socket.create_connection(("127.0.0.1", bounded_server.port))
    headers = b"".join(b"X-%d: %s\r\n" % (i, b"a" * 300) for i in range(MAX_HEADERS - 10))
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    assert MAX_HEADER_BYTES * 3 // 4 < len(head) < MAX_HEADER_BYTES
    half = len(head) * 3 // 4
    sock.sendall(head[:half])
    time.sleep(0.2)  # a second read: counted once, not once raw and once parsed
    sock.sendall(head[half:])
    assert _reply(sock).startswith(b"HTTP/1.1 200")


def test_too_many_headers_get_431(bounded_server):
    sock = socket.create_connection(("127.0.0.1", bounded_server.port))
    headers = b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS + 1))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert _reply(sock).startswith(b"HTTP/1.1 431")


# 5. Garbage in index/CURRENT is rebuilt, never a traceback -------------------------


def test_garbage_in_current_is_rebuilt_by_the_server(settings, fake):
    ingest(settings, fake)
    (settings.index_dir / "CURRENT").write_bytes(b"\xff\xfe\x00garbage\n")
    assert store.current_build_id(settings.index_dir) is None
    with pytest.raises(store.IndexCorruptError, match="names no build"):
        store.load(settings.index_dir)
    with started(create_app(settings, fake)) as client:
        ready = client.get("/readyz").json()
        assert ready["ready"] and ready["build_id"] == store.current_build_id(settings.index_dir)


def test_garbage_in_current_with_the_real_cli(settings):
    real = settings.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    assert run_cli(real, "ingest").returncode == 0
    (real.index_dir / "CURRENT").write_bytes(os.urandom(64))
    for args in (("ingest",), ("ask", "junior pay?", "--json")):
        done = run_cli(real, *args)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert store.current_build_id(real.index_dir) is not None


# 6. Start-up serves the last good build at once; SIGTERM is prompt ----------------


class GatedFake(FakeEmbedder):
    """Holds every model call until the gate opens: a rebuild that takes its time."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed(self, texts, *, progress=False):
        assert self.gate.wait(30)
        return super().embed(texts, progress=progress)


def test_start_up_serves_the_last_good_build_while_it_rebuilds(settings, fake):
    ingest(settings, fake)
    before = store.current_build_id(settings.index_dir)
    (settings.corpus_dir / "new.md").write_text("# Interviews\n\nPractice coding interviews.\n")
    gated = GatedFake()
    settings = settings.model_copy(update={"abstain_threshold": -1.0})
    app = create_app(settings, gated)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        ready = client.get("/readyz").json()
        assert ready["ready"] and ready["rebuilding"] and ready["build_id"] == before
        gated.gate.set()  # questions and the rebuild may now reach the model
        assert client.post("/ask", json=ASK).status_code == 200
        assert app.state.holder.wait_started(30)
        ready = client.get("/readyz").json()
        assert not ready["rebuilding"] and ready["build_id"] != before
        assert ready["documents"] == 4


def test_sigterm_stops_the_server_within_seconds_even_mid_rebuild(settings, tmp_path):
    real = settings.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    assert run_cli(real, "ingest").returncode == 0
    words = "Machine learning engineers build models and ship them to production. " * 8
    (real.corpus_dir / "long.txt").write_text("\n\n".join(words for _ in range(3000)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "careerqa", "serve", "--port", str(port)],
        env=cli_env(real),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and ready is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).json()
            except httpx.HTTPError:
                time.sleep(0.1)
        assert ready and ready["ready"] and ready["rebuilding"]  # the old build serves
        stopped = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        assert time.monotonic() - stopped < 10
    finally:
        server.kill()
    assert "Traceback" not in server.stderr.read()


# 7. A busy port is one line --------------------------------------------------------


def test_a_busy_port_is_one_clear_line(settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(settings, "serve", "--port", str(port), timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"careerqa: error: cannot listen on 127.0.0.1:{port}: Address already in use — "
        "another server is using it; stop it or choose another --port"
    ]


# 8. Errors keep their headers and JSON; limits agree; nothing private shows -------


def test_a_server_fault_is_json_with_the_security_headers(settings, fake, monkeypatch):
    with started(create_app(settings, fake), raise_server_exceptions=False) as client:
        live = client.app.state.holder.assistant

        async def broken(*args, **kwargs):
            raise RuntimeError("a bug")

        monkeypatch.setattr(live, "ask", broken)
        r = client.post("/ask", json=ASK)
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error; the server log says more"}
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_deeply_nested_json_is_named_as_such(settings, fake):
    with started(create_app(settings, fake)) as client:
        r = _post_raw(client, b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert r.status_code == 400
    assert r.json() == {"detail": "request body is JSON nested too deeply"}


def test_the_documented_history_maximum_fits_under_the_body_limit(settings, fake):
    from careerqa.schemas import MAX_HISTORY_TURNS, MAX_TURN_CHARS

    turn = "💼" * MAX_TURN_CHARS  # 4 bytes each in UTF-8
    history = [{"role": "user", "content": turn}] * MAX_HISTORY_TURNS
    body = json.dumps({"question": "x" * 1000, "history": history}, ensure_ascii=False).encode()
    assert len(body) <= MAX_BODY_BYTES
    settings = settings.model_copy(update={"abstain_threshold": -1.0})
    with started(create_app(settings, fake)) as client:
        assert _post_raw(client, body).status_code == 200


def test_readiness_shows_no_absolute_paths(settings, fake, tmp_path):
    broken = settings.model_copy(update={"corpus_dir": tmp_path / "missing"})
    with started(create_app(broken, fake)) as client:
        ready = client.get("/readyz").json()
        asked = client.post("/ask", json=ASK).json()
    assert not ready["ready"] and "does not exist" in ready["last_error"]
    assert str(tmp_path) not in json.dumps(ready) and str(tmp_path) not in json.dumps(asked)


def test_redoc_may_start_its_search_worker(settings, fake):
    with started(create_app(settings, fake)) as client:
        csp = client.get("/redoc").headers["content-security-policy"]
    assert "worker-src 'self' blob:" in csp


def test_the_encoder_tokenizes_long_lists_a_window_at_a_time(monkeypatch, real_embedder):
    from careerqa import onnx_encoder

    texts = [f"Skill number {i}: statistics, Python and model deployment." for i in range(40)]
    whole = real_embedder.embed(texts)
    assert real_embedder._direct is not None  # the direct ONNX encoder is what is tested
    monkeypatch.setattr(onnx_encoder, "TEXTS_PER_WINDOW", 7)
    windowed = real_embedder.embed(texts)
    assert np.allclose(whole, windowed, atol=1e-5)
