"""schemathesis against the app's own OpenAPI schema: no 5xx, responses match the schema."""

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from careerqa.app import create_app
from careerqa.errors import QuestionError
from careerqa.query import check_text
from careerqa.settings import Settings

from .conftest import DATA, FakeEmbedder, started

schemathesis = pytest.importorskip("schemathesis")

_ROOT = Path(tempfile.mkdtemp(prefix="careerqa-fuzz-"))
shutil.copytree(DATA / "corpus", _ROOT / "corpus")
APP = create_app(
    Settings(
        corpus_dir=_ROOT / "corpus",
        index_dir=_ROOT / "index",
        data_dir=_ROOT / "data",
        model="fake",
        admin_token="fuzz-token",
        abstain_threshold=-1.0,  # the fake embedder's scores mean nothing: always answer
    ),
    FakeEmbedder(),
)
# The schema is read from the app object, not fetched over ASGI: fetching it would run the
# lifespan at import, and its start-up thread would load the index (numpy parses each array
# header with `ast`) while collection runs hypothesis, which parses lambdas with `ast` too.
# CPython 3.11.7 keeps one AST recursion counter per interpreter, so two threads parsing at
# once can fail with "SystemError: AST constructor recursion depth mismatch" (cpython#106905).
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture(scope="module", autouse=True)
def running_app():
    """The lifespan builds and loads the index before the first generated request."""
    with started(APP):
        yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    # All default checks: no 5xx, documented status codes and content types, response
    # bodies that match their schemas, schema-violating requests refused (schemathesis.toml
    # adds 413, our answer to bodies over the size limit, to the accepted refusals).
    case.call_and_validate()


@pytest.mark.parametrize("text", ["ok 😀", "x\ufde5", "x\uffff", "x\U0001fffe", "\U0010ffff"])
def test_the_schema_refuses_the_text_the_checks_refuse(text):
    # A schema-valid request is never refused: schemathesis once sent U+FDE5 in `history`.
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    try:
        check_text(text, "text")
        refused = False
    except QuestionError:
        refused = True
    schemas = APP.openapi()["components"]["schemas"]
    for model, field in [
        ("AskRequest", "question"),
        ("HistoryTurn", "content"),
        ("RatingIn", "comment"),
    ]:
        validator = jsonschema_rs.validator_for(schemas[model]["properties"][field])
        assert validator.is_valid(text) is not refused, (model, field, text)


# What schemathesis never sends: JSON that Python parses but no encoder can write back
# (NaN, Infinity, lone surrogates), and nesting deeper than the parser goes; non-characters
# too, now that the schema's patterns refuse them.
HOSTILE_BODIES = [
    b'{"question": "x", "top_k": NaN}',
    b'{"question": "x", "top_k": -Infinity}',
    b'{"question": Infinity}',
    b'{"question": NaN, "history": NaN}',
    b'{"question": "degree \\ud800"}',
    b'{"question": "\\udc00\\ud800 salary"}',
    b'{"question": "x", "history": [{"role": "user", "content": "\\ud83d"}]}',
    b'{"question": "x", "history": [{"role": "\\ud800", "content": "y"}]}',
    b'{"question": "x\\uffff"}',
    b'{"question": "x", "top_k": 1e400}',
    b'{"question": "x"' + b', "a": [' * 5000 + b"]" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
@pytest.mark.parametrize("path", ["/ask", "/reindex"])
def test_no_request_body_causes_a_server_error(body, path):
    from fastapi.testclient import TestClient

    client = TestClient(APP, raise_server_exceptions=False)
    headers = {"content-type": "application/json", "authorization": "Bearer fuzz-token"}
    r = client.post(path, content=body, headers=headers)
    assert 400 <= r.status_code < 500 or (path == "/reindex" and r.status_code == 200), r.text
    assert isinstance(r.json()["detail"] if r.status_code >= 400 else r.json(), (str, list, dict))
