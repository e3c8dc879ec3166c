"""Feedback: the SQLite store, POST /feedback, the admin export and `careerqa feedback export`."""

import json
import re
import sqlite3

import pytest

from careerqa.app import create_app
from careerqa.errors import FeedbackError
from careerqa.evaluation import load_questions
from careerqa.feedback import SCHEMA_VERSION, CitedPassage, Feedback, FeedbackStore, export_lines
from careerqa.security import FEEDBACK_MAX_BYTES, RateLimiter

from .conftest import run_cli, started

TOKEN = "s3cret-token"


def _rows(settings) -> int:
    path = settings.data_dir / "feedback.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM feedback").fetchone()[0])


@pytest.fixture
def client(settings, fake):
    settings = settings.model_copy(
        update={"abstain_threshold": -1.0, "admin_token": TOKEN, "feedback_per_minute": 5}
    )
    with started(create_app(settings, fake)) as c:
        c.settings = settings
        yield c


@pytest.fixture
def answer(client):
    r = client.post("/ask", json={"question": "How much do junior data engineers earn?"})
    body = r.json()
    assert body["answered"] and "[1]" in body["answer"]
    return body


def _mark(answer, rating, **extra):
    body = {
        "rating": rating,
        "question": answer["question"],
        "answer": answer["answer"],
        "answered": answer["answered"],
        "citations": answer["citations"],  # as /ask returned them; extra fields ignored
        **extra,
    }
    return body


def _export(client):
    r = client.get("/feedback/export", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines()]


def test_marks_are_stored_and_down_and_unsupported_ones_exported(client, answer):
    assert client.post("/feedback", json=_mark(answer, "up")).status_code == 201
    down = client.post("/feedback", json=_mark(answer, "down", comment="  Wrong figure.  "))
    assert down.status_code == 201 and down.json()["stored"] is True
    marked = answer["citations"][0]
    r = client.post("/feedback", json=_mark(answer, "unsupported", citation=marked))
    assert r.status_code == 201
    lines = _export(client)
    assert [line["feedback"]["rating"] for line in lines] == ["down", "unsupported"]
    first, second = lines
    assert first["id"] == f"feedback-{down.json()['id']}"
    assert first["question"] == answer["question"]
    assert first["answers"] == [] and first["sources"] == []
    assert first["feedback"]["comment"] == "Wrong figure."
    assert first["feedback"]["answer"] == answer["answer"]
    # 👎 carries the passages the answer cited; the unsupported mark only the one marked.
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert {c["n"] for c in first["feedback"]["cited"]} == cited
    assert second["feedback"]["cited"] == [
        {
            "n": marked["n"],
            "source": marked["source"],
            "heading": marked["heading"],
            "text": marked["text"],
        }
    ]
    assert _rows(client.settings) == 3


def test_a_huge_marker_or_since_does_not_break_the_export(client, answer):
    huge = _mark(answer, "down")
    huge["answer"] = "Bad answer [" + "9" * 4301 + "]"
    assert client.post("/feedback", json=huge).status_code == 201
    assert len(_export(client)) == 1
    r = client.get(
        "/feedback/export",
        params={"since": "9" * 30},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 422


def test_the_export_needs_the_admin_token(client, answer, settings, fake):
    client.post("/feedback", json=_mark(answer, "down"))
    assert client.get("/feedback/export").status_code == 401
    wrong = client.get("/feedback/export", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    with started(create_app(settings, fake)) as no_token:  # no CAREERQA_ADMIN_TOKEN
        assert no_token.get("/feedback/export").status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"rating": "meh"},
        {"rating": None},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 1001},
        {"answered": 1},
        {"answered": "true"},
        {"comment": "x" * 2001},
        {"comment": "bad \udc00 text"},
        {"extra": "field"},
        {
            "citations": [
                {"n": "1", "doc_id": "a", "title": "t", "source": "s", "text": "x", "url": "/"}
            ]
        },
        {"citations": "not a list"},
        {"history": [{"role": "system", "content": "x"}]},
        {"rating": "unsupported"},  # which citation?
        {"citation": {"n": 1}},  # a citation mark on a 👎
    ],
)
def test_bad_bodies_get_422_and_store_nothing(client, answer, change):
    body = {**_mark(answer, "down"), **change}
    r = client.post(
        "/feedback", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], list)
    assert _rows(client.settings) == 0


def test_malformed_and_oversized_bodies_are_refused(client, answer):
    r = client.post("/feedback", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)
    big = _mark(answer, "down", comment="x" * 100)
    big["answer"] = "y" * (FEEDBACK_MAX_BYTES + 1)
    r = client.post("/feedback", json=big)
    assert r.status_code == 413
    assert r.json() == {"detail": f"request body is larger than {FEEDBACK_MAX_BYTES // 1024} KiB"}

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"rating": "down", "answer": "'
        for _ in range(FEEDBACK_MAX_BYTES // 1024 + 2):
            yield b"z" * 1024

    r = client.post("/feedback", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert _rows(client.settings) == 0


def test_each_client_is_rate_limited(client, answer):
    for _ in range(5):
        assert client.post("/feedback", json=_mark(answer, "up")).status_code == 201
    r = client.post("/feedback", json=_mark(answer, "down"))
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert "at most 5 a minute" in r.json()["detail"]
    assert _rows(client.settings) == 5
    assert client.post("/ask", json={"question": "salary?"}).status_code == 200  # asking is not


def test_rate_limiter_window_slides_and_forgets_old_clients():
    limiter = RateLimiter(2, window=60, clients=2)
    assert limiter.retry_after("a", now=0) == 0
    assert limiter.retry_after("a", now=1) == 0
    assert limiter.retry_after("a", now=2) == pytest.approx(58)
    assert limiter.retry_after("a", now=60.5) == 0  # the first event left the window
    limiter.retry_after("b", now=61)
    limiter.retry_after("c", now=62)  # three clients: "a" (seen longest ago) is forgotten
    assert set(limiter._seen) == {"b", "c"}


def test_an_unwritable_store_is_503_and_answers_go_on(settings, fake):
    settings.data_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.data_dir.write_text("a file where the folder should be")
    settings = settings.model_copy(update={"abstain_threshold": -1.0})
    with started(create_app(settings, fake)) as c:
        body = c.post("/ask", json={"question": "How much do junior data engineers earn?"}).json()
        r = c.post("/feedback", json=_mark(body, "down"))
        assert r.status_code == 503
        assert "feedback was not stored" in r.json()["detail"]
        assert c.post("/ask", json={"question": "salary?"}).status_code == 200


def _feedback(rating="down", **extra):
    passage = CitedPassage(
        1, "doc", "doc.md", "Doc", "Pay", "Juniors earn $60,000.", "/sources/doc"
    )
    return Feedback(rating, "How much?", "Juniors earn $60,000. [1]", True, [passage], **extra)


def test_store_is_wal_versioned_and_refuses_a_newer_or_corrupt_file(tmp_path):
    store = FeedbackStore(tmp_path / "data")
    assert store.rows(("down",)) == []  # no file yet: nothing, and nothing created
    assert not store.path.exists()
    store.add(_feedback())
    store.close()
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(FeedbackError, match="newer|upgrade careerqa"):
        FeedbackStore(tmp_path / "data").add(_feedback())
    with pytest.raises(FeedbackError, match="upgrade careerqa"):
        FeedbackStore(tmp_path / "data").rows(("down",))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "feedback.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(FeedbackError, match="feedback"):
        FeedbackStore(broken).add(_feedback())


def test_export_lines_load_as_a_question_set(tmp_path, settings):
    store = FeedbackStore(settings.data_dir)
    store.add(_feedback("up"))
    store.add(_feedback("down", comment="wrong", history=[{"role": "user", "content": "Hi"}]))
    store.add(_feedback("unsupported", citation=1))
    store.close()
    lines = list(export_lines(store.rows(("down", "unsupported"))))
    assert [line["id"] for line in lines] == ["feedback-2", "feedback-3"]
    assert lines[0]["feedback"]["history"] == [{"role": "user", "content": "Hi"}]

    result = run_cli(settings, "feedback", "export", "--since", "2", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "exported 1 mark from" in result.stderr and "the last id is 3" in result.stderr
    out = tmp_path / "review.jsonl"
    result = run_cli(settings, "feedback", "export", "-o", str(out), timeout=60)
    assert result.returncode == 0, result.stderr
    questions = load_questions(out)  # what `careerqa eval` reads
    assert [q.id for q in questions] == ["feedback-2", "feedback-3"]
    assert all(q.question == "How much?" and q.answers == [] for q in questions)
