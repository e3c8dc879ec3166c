"""Bad input, hostile pages, faults and rebuild races: each protection has a test."""

import json
import logging
import random
import signal
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from careerqa import store
from careerqa.app import create_app
from careerqa.cli import cli
from careerqa.errors import IndexBusyError, IndexCorruptError
from careerqa.ingest import ingest
from careerqa.security import MAX_BODY_BYTES

from .conftest import LiveServer, answers_ok, free_port, run_cli, start_cli, started

# --- input ----------------------------------------------------------------------


@pytest.fixture
def client(settings, fake):
    settings = settings.model_copy(update={"abstain_threshold": -1.0, "admin_token": "t0k-Secret"})
    with started(create_app(settings, fake), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    "body,status,needle",
    [
        (b'{"question": "caf\xe9"}', 400, "UTF-8"),
        (b"\xff\xfe\x00", 400, "UTF-8"),
        (b'{"question": ', 422, "JSON"),
        (b"[1, 2]", 422, "dictionary"),
        (b'{"question": "a\\u0000b"}', 422, "NUL"),
        (b'{"question": null}', 422, "question"),
        (b'{"question": "ok", "history": [{"role": "user", "content": 5}]}', 422, "content"),
        (
            b'{"question": "ok", "history": ['
            + b'{"role": "user", "content": "x"},' * 20
            + b'{"role": "user", "content": "x"}]}',
            422,
            "history",
        ),
    ],
)
def test_malformed_requests_get_4xx_naming_the_problem(client, body, status, needle):
    r = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert needle.lower() in r.text.lower()


@pytest.mark.parametrize("path", ["/ask", "/ask/stream", "/v1/chat/completions", "/reindex"])
def test_oversized_body_is_413_by_content_length_as_documented(client, path):
    r = client.post(
        path, content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert "413" in client.get("/openapi.json").json()["paths"][path]["post"]["responses"]
    assert r.json() == {"detail": f"request body is larger than {MAX_BODY_BYTES // 1024} KiB"}
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_oversized_streamed_body_is_413_without_reading_it_whole(settings, fake):
    """Chunked upload with no Content-Length that never ends: 413 once past the limit."""
    import socket

    with (
        LiveServer(create_app(settings, fake)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(
            b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 8192
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):  # past the limit, never finished
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        reply = sock.recv(4096)  # a server that waited for the whole body would time out here
    assert reply.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "question",
    [
        "¿Cuánto gana un ingeniero de datos?",
        "数据工程师的工资是多少？",
        "💰💰 salary?",
        "<script>alert(1)</script> pay?",
        "What's a \"good\" portfolio; 'really'?",
        "SELECT * FROM salaries; --",
    ],
)
def test_odd_but_valid_questions_are_answered_normally(client, question):
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200
    assert r.json()["question"] == question


# --- pages ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/sources/salaries", "/static/chat.js", "/healthz"])
def test_pages_carry_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe-inline" not in csp
    # The source view opens in a panel beside the chat: this app may frame it, no other.
    framing = "'self'" if path.startswith("/sources/") else "'none'"
    assert f"frame-ancestors {framing}" in csp
    assert r.headers["x-frame-options"] == ("SAMEORIGIN" if framing == "'self'" else "DENY")
    assert r.headers["x-content-type-options"] == "nosniff"


def test_docs_keep_frame_and_sniff_rules(client):
    r = client.get("/docs")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../pyproject.toml",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/%252e%252e/%252e%252e/pyproject.toml",
        "/static/..%2f..%2fpyproject.toml",
        "/static/....//....//pyproject.toml",
        "/sources/..%2f..%2fpyproject.toml",
        "/sources/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/sources/%252e%252e%252fetc%252fpasswd",
    ],
)
def test_no_path_reaches_outside_its_folder(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "[project]" not in r.text and "root:" not in r.text


def test_admin_token_is_compared_in_constant_time_and_never_logged(client, monkeypatch, caplog):
    import secrets

    calls = []
    real = secrets.compare_digest
    monkeypatch.setattr(secrets, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    with caplog.at_level(logging.DEBUG):
        assert client.post("/reindex", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert (
            client.post("/reindex", headers={"Authorization": "Bearer t0k-Secret"}).status_code
            == 200
        )
    assert len(calls) == 2
    assert "t0k-Secret" not in caplog.text and "wrong" not in caplog.text


# --- faults ---------------------------------------------------------------------


def test_sigkilled_rebuilds_leave_the_previous_index_whole(settings):
    """`careerqa ingest --full` killed with SIGKILL at random moments, five times."""
    settings = settings.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    first = run_cli(settings, "ingest")
    assert first.returncode == 0, first.stderr
    good = store.load(settings.index_dir)
    chunks = [c.chunk.chunk_id for c in good.chunks]
    rng = random.Random(7)
    for _ in range(5):
        proc = start_cli(settings, "ingest", "--full")
        time.sleep(rng.uniform(0.2, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        data = store.load(settings.index_dir)  # whole, checksums verified
        assert [c.chunk.chunk_id for c in data.chunks] == chunks
    # The next ingest clears what the killed ones left behind and is whole too.
    done = run_cli(settings, "ingest", "--full")
    assert done.returncode == 0, done.stderr
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_two_rebuilds_at_once_cannot_both_write(settings, fake):
    ingest(settings, fake)
    with store.rebuild_lock(settings.index_dir):
        with pytest.raises(IndexBusyError, match="another rebuild"):
            ingest(settings, fake, full=True, lock_wait=0.3)
        busy = run_cli(settings, "--model", "fake", "ingest", "--wait", "0", timeout=60)
    assert busy.returncode == 1
    assert "another rebuild" in busy.stderr and "Traceback" not in busy.stderr
    store.load(settings.index_dir)


@pytest.mark.parametrize("damage", ["truncate", "delete", "delete-sentences", "garbage", "pointer"])
def test_damaged_index_is_detected_and_rebuilt(settings, fake, damage):
    ingest(settings, fake)
    build = store.current_build(settings.index_dir)
    if damage == "truncate":
        path = build / "chunks.jsonl"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "delete":
        (build / "faiss.index").unlink()
    elif damage == "delete-sentences":
        (build / "sentence_faiss.index").unlink()
    elif damage == "garbage":
        (build / "manifest.json").write_text("{not json")
    else:
        (settings.index_dir / store.CURRENT).write_text("no-such-build")
    with pytest.raises(IndexCorruptError):
        store.load(settings.index_dir)
    report = ingest(settings, fake)
    assert report.full and "unusable" in report.reason
    assert len(store.load(settings.index_dir).chunks) > 0


def test_server_starts_on_a_damaged_index_by_rebuilding_it(settings, fake):
    ingest(settings, fake)
    (store.current_build(settings.index_dir) / "vectors.npy").write_bytes(b"\x00" * 64)
    with started(create_app(settings, fake)) as c:
        assert c.get("/readyz").json()["ready"]
        assert c.post("/ask", json={"question": "junior pay"}).status_code == 200


def test_cli_answers_after_repairing_a_corrupt_index(settings, fake, tmp_path):
    first = run_cli(settings, "ask", "junior pay?", "--json")
    assert first.returncode == 0, first.stderr
    (store.current_build(settings.index_dir) / "sentence_vectors.npy").write_bytes(b"broken")
    again = run_cli(settings, "ask", "junior pay?", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["question"] == "junior pay?"
    assert "Traceback" not in again.stderr


def test_unreadable_corpus_file_is_reported_and_the_rest_indexed(settings, fake, monkeypatch):
    # Root reads any file whatever its mode, so the read itself is made to fail.
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "skills.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = ingest(settings, fake)
    assert ("skills.txt", "Permission denied") in report.skipped
    assert sorted(report.added) == ["portfolio", "salaries"]


def test_unwritable_index_folder_is_one_clear_line(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        cli,
        [
            "--corpus-dir",
            str(settings.corpus_dir),
            "--index-dir",
            str(blocker / "index"),
            "--model",
            "fake",
            "ingest",
        ],
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("careerqa: error: cannot write the index in")
    assert "Traceback" not in result.output


def test_missing_corpus_folder_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "--corpus-dir",
            str(tmp_path / "nope"),
            "--index-dir",
            str(tmp_path / "i"),
            "--model",
            "fake",
            "ingest",
        ],
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"careerqa: error: corpus folder {tmp_path / 'nope'} does not exist — create it and put "
        "articles (.txt, .md, .html, .htm, .pdf or .docx) in it, or set CAREERQA_CORPUS_DIR"
    )


def test_failed_background_rebuild_keeps_serving_and_readyz_says_so(settings, fake, corpus_dir):
    import shutil

    settings = settings.model_copy(update={"admin_token": "tok", "abstain_threshold": -1.0})
    with started(create_app(settings, fake)) as c:
        before = c.get("/readyz").json()
        shutil.rmtree(corpus_dir)
        r = c.post("/reindex", headers={"Authorization": "Bearer tok"})
        assert r.status_code == 500 and "still serving the previous index" in r.json()["detail"]
        ready = c.get("/readyz").json()
        assert ready["ready"] and ready["build_id"] == before["build_id"]
        assert "does not exist" in ready["last_error"]
        assert c.post("/ask", json={"question": "junior pay"}).status_code == 200


# --- load -----------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_soak_32_clients_while_the_corpus_changes_twice(settings, corpus_dir):
    """A real server process; 32 clients; 3,000 requests; two corpus changes mid-way."""
    import threading

    port = free_port()
    server = start_cli(
        settings, "serve", "--port", str(port), "--watch", CAREERQA_ADMIN_TOKEN="soak"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        answers_ok(url + "/readyz", 120)
        total, clients = 3000, 32
        questions = [
            "How much do junior data engineers earn?",
            "Which cloud platforms?",
            "What makes a good portfolio?",
            "Do I need SQL?",
        ]
        lock = threading.Lock()
        counts = {"sent": 0, "ok": 0, "4xx": 0, "5xx": 0, "dropped": 0}

        def worker(i: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                while True:
                    with lock:
                        if counts["sent"] >= total:
                            return
                        counts["sent"] += 1
                        n = counts["sent"]
                    try:
                        r = http.post("/ask", json={"question": questions[n % 4]})
                        kind = (
                            "ok"
                            if r.status_code == 200
                            else "5xx"
                            if r.status_code >= 500
                            else "4xx"
                        )
                    except httpx.HTTPError:
                        kind = "dropped"
                    with lock:
                        counts[kind] += 1

        for _ in range(100):  # warm up, then take the baseline memory
            httpx.post(url + "/ask", json={"question": "warm up"}, timeout=30)
        rss_start = _rss_mb(server.pid)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        while counts["sent"] < total // 3:
            time.sleep(0.05)
        (corpus_dir / "change-one.txt").write_text("Data engineers in Oslo often cycle to work.\n")
        while counts["sent"] < 2 * total // 3:
            time.sleep(0.05)
        r = httpx.post(url + "/reindex", headers={"Authorization": "Bearer soak"}, timeout=120)
        assert r.status_code == 200
        (corpus_dir / "skills.txt").unlink()
        for t in threads:
            t.join(timeout=300)
        elapsed = time.monotonic() - started
        # --watch picks up the removal (debounce, incremental ingest, swap).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = httpx.get(url + "/readyz").json()
            if ready["documents"] == 3:
                break
            time.sleep(0.2)
        rss_end = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(20)
    print(f"soak: {counts} in {elapsed:.1f}s; RSS {rss_start:.0f} -> {rss_end:.0f} MB; {ready}")
    assert counts["ok"] == total and counts["5xx"] == 0 and counts["dropped"] == 0
    assert ready["documents"] == 3  # +1 added, -1 removed
    assert rss_end <= rss_start * 1.15
