"""schemathesis against the app's own OpenAPI schema: no 5xx, responses match the schema."""

import shutil
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from careerqa.app import create_app
from careerqa.settings import Settings

from .conftest import DATA, FakeEmbedder

schemathesis = pytest.importorskip("schemathesis")

_ROOT = Path(tempfile.mkdtemp(prefix="careerqa-fuzz-"))
shutil.copytree(DATA / "corpus", _ROOT / "corpus")
APP = create_app(
    Settings(
        corpus_dir=_ROOT / "corpus",
        index_dir=_ROOT / "index",
        model="fake",
        admin_token="fuzz-token",
        abstain_threshold=-1.0,  # the fake embedder's scores mean nothing: always answer
    ),
    FakeEmbedder(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def running_app():
    """The lifespan builds and loads the index before the first generated request."""
    with TestClient(APP):
        yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    # All default checks: no 5xx, documented status codes and content types, response
    # bodies that match their schemas, schema-violating requests refused (schemathesis.toml
    # adds 413, our answer to bodies over 64 KiB, to the accepted refusals).
    case.call_and_validate()
