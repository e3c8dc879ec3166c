"""The HTTP API with TestClient: the /ask contract, validation, pages, reindex auth."""

import pytest

from careerqa.app import create_app

from .conftest import ANSWER_FIELDS, CITATION_FIELDS, started


@pytest.fixture
def client(settings, fake):
    # The fake embedder's similarities mean nothing: always answer, to test the API layer.
    settings = settings.model_copy(update={"abstain_threshold": -1.0})
    with started(create_app(settings, fake)) as c:
        yield c


@pytest.fixture
def admin_client(settings, fake):
    settings = settings.model_copy(update={"admin_token": "s3cret-token"})
    with started(create_app(settings, fake)) as c:
        yield c


def test_ask_follows_the_contract(client):
    r = client.post(
        "/ask", json={"question": "  How much do junior data engineers earn?  ", "top_k": 3}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "extractive" and body["reason"] is None and body["unsupported"] == []
    assert set(body) == ANSWER_FIELDS
    assert body["question"] == "How much do junior data engineers earn?"
    if body["answered"]:
        assert len(body["citations"]) == 3
        assert [c["n"] for c in body["citations"]] == [1, 2, 3]
    for c in body["citations"]:
        assert set(c) == CITATION_FIELDS
        assert c["url"].startswith(f"/sources/{c['doc_id']}?start={c['start']}&end={c['end']}")


def test_ask_accepts_history(client):
    r = client.post(
        "/ask",
        json={
            "question": "and seniors?",
            "history": [
                {"role": "user", "content": "How much do junior data engineers earn?"},
                {"role": "assistant", "content": "Between $60,000 and $75,000 [1]."},
            ],
        },
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    "payload,needle",
    [
        ({}, "question"),
        ({"question": ""}, "question is empty"),
        ({"question": "   \n "}, "question is empty"),
        ({"question": "x" * 1001}, "the limit is 1000"),
        ({"question": "x" * 1000 + " "}, "the limit is 1000"),  # as the schema's maxLength
        ({"question": "\u0085\u3000\x1c"}, "question is empty"),
        ({"question": 42}, "question"),
        ({"question": "ok", "top_k": 0}, "top_k"),
        ({"question": "ok", "top_k": 21}, "top_k"),
        ({"question": "ok", "top_k": "five"}, "top_k"),
        ({"question": "ok", "history": "not a list"}, "history"),
        ({"question": "ok", "history": [{"role": "system", "content": "x"}]}, "role"),
        ({"question": "ok", "history": [{"role": "user"}]}, "content"),
        ({"question": "nul \u0000 byte"}, "NUL"),
        ({"question": "ok", "extra": 1}, "extra"),
    ],
)
def test_invalid_input_is_422_naming_the_problem(client, payload, needle):
    r = client.post("/ask", json=payload)
    assert r.status_code == 422
    assert needle in r.text


def test_malformed_json_is_422(client):
    r = client.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "json" in r.text.lower()


def test_no_index_is_503_not_a_traceback(tmp_path, fake):
    from careerqa.settings import Settings

    settings = Settings(corpus_dir=tmp_path / "missing", index_dir=tmp_path / "index", model="fake")
    with started(create_app(settings, fake)) as c:
        r = c.post("/ask", json={"question": "anything"})
        assert r.status_code == 503
        assert "no index loaded" in r.json()["detail"]
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "does not exist" in ready.json()["last_error"]
        assert c.get("/healthz").json() == {"status": "ok"}


def test_health_and_readiness(client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz").json()
    assert ready["ready"] and ready["documents"] == 3 and ready["chunks"] > 0
    assert ready["model"] == "fake" and ready["built_at"] and ready["build_id"]


def test_reindex_is_off_without_a_token(client):
    assert client.post("/reindex").status_code == 404


def test_reindex_needs_the_bearer_token(admin_client, corpus_dir):
    assert admin_client.post("/reindex").status_code == 401
    wrong = admin_client.post("/reindex", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (
        admin_client.post("/reindex", headers={"Authorization": "Basic s3cret-token"}).status_code
        == 401
    )
    (corpus_dir / "new.txt").write_text(
        "Data engineers in Lisbon enjoy the sea breeze after work.\n"
    )
    before = admin_client.get("/readyz").json()["build_id"]
    ok = admin_client.post("/reindex", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["added"] == ["new"]
    after = admin_client.get("/readyz").json()
    assert after["build_id"] != before and after["documents"] == 4


def test_page_has_examples_and_no_outside_assets(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert 'id="ask-form"' in html and 'class="example"' in html
    assert "http://" not in html and "https://" not in html
    assert client.get("/static/chat.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_source_view_highlights_the_passage(client):
    body = client.post("/ask", json={"question": "How much do junior data engineers earn?"}).json()
    citation = body["citations"][0]
    r = client.get(citation["url"].split("#")[0])
    assert r.status_code == 200
    marked = r.text.split('<mark id="passage">', 1)[1].split("</mark>", 1)[0]
    assert marked.strip() and marked in citation["text"]


def test_source_view_escapes_article_text(settings, fake, corpus_dir):
    (corpus_dir / "evil.txt").write_text(
        "---\ntitle: <img src=x onerror=alert(1)>\nurl: javascript:alert(2)\n---\n"
        "Some <script>alert('x')</script> text about data engineers.\n"
    )
    with started(create_app(settings, fake)) as c:
        r = c.get("/sources/evil?start=0&end=20")
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text
        assert "<img src=x" not in r.text
        assert "javascript:alert" not in r.text


def test_unknown_source_is_404(client):
    assert client.get("/sources/no-such-doc").status_code == 404


def test_openapi_describes_the_contract(client):
    spec = client.get("/openapi.json").json()
    ask = spec["paths"]["/ask"]["post"]
    assert "AskRequest" in str(ask["requestBody"]) and "AskResponse" in str(ask["responses"]["200"])
    schemas = spec["components"]["schemas"]
    assert schemas["AskRequest"]["examples"] and schemas["AskResponse"]["examples"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "https://" not in docs.text  # assets served locally
    js = docs.text.split('src="', 1)[1].split('"', 1)[0]
    assert client.get(js).status_code == 200


def test_server_start_reads_the_index_once(settings, fake, monkeypatch):
    from careerqa import store
    from careerqa.ingest import ingest

    ingest(settings, fake)
    loads = []
    original = store.load
    monkeypatch.setattr(store, "load", lambda d, **k: loads.append(d) or original(d, **k))
    with started(create_app(settings, fake)) as c:
        assert c.get("/readyz").json()["build_id"] == store.current_build_id(settings.index_dir)
        assert c.post("/ask", json={"question": "junior pay"}).status_code == 200
    assert len(loads) == 1  # ingest's no-change check; the server keeps what it loaded


def test_swapped_out_index_is_freed_and_startup_objects_are_frozen(settings, fake, corpus_dir):
    import gc
    import weakref

    with started(create_app(settings, fake)) as c:
        holder = c.app.state.holder
        assert gc.get_freeze_count() > 0  # the loaded index is out of the collector's way
        old = weakref.ref(holder.assistant.data)
        (corpus_dir / "new.md").write_text("# Interviews\n\nPractice coding interviews weekly.\n")
        holder.rebuild()
        assert holder.assistant.data is not old()
        gc.collect()
        assert old() is None  # freezing after the swap did not keep the old index alive


def test_schema_and_server_agree_on_which_questions_are_blank(client):
    import re

    from careerqa.query import BLANKS

    question = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
    pattern = question["properties"]["question"]["pattern"]
    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == BLANKS
    for blank in BLANKS:  # what the server trims, the schema calls blank
        assert not re.fullmatch(pattern, blank * 2)
        assert client.post("/ask", json={"question": blank * 2}).status_code == 422
    for text in ("\ufeff", "x", " ?", "\u200b"):  # and nothing else
        assert re.fullmatch(pattern, text)
        assert client.post("/ask", json={"question": text}).status_code == 200
