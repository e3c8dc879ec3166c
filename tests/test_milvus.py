"""The Milvus store (CAREERQA_STORE=milvus): same passages as the embedded store, builds
written before the switch, aliases moved after, a failed write leaving the last build."""

import pytest

from careerqa import milvus, store
from careerqa.assistant import Assistant
from careerqa.errors import StoreError
from careerqa.ingest import ingest, refresh_index

pytest.importorskip("pymilvus")

QUESTIONS = [
    "How much do junior data engineers earn?",
    "Which cloud platforms do pipelines run on?",
    "What makes a good portfolio?",
    "Which cities pay the most?",
]


@pytest.fixture
def on_milvus(settings):
    return settings.model_copy(update={"store": "milvus"})


@pytest.fixture
def embedded(settings):
    """The embedded store, whatever CAREERQA_STORE says (CI runs the suite with milvus)."""
    return settings.model_copy(update={"store": "embedded"})


def test_milvus_finds_the_same_passages_as_the_embedded_store(on_milvus, real_embedder):
    on_milvus = on_milvus.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    data = ingest(on_milvus, real_embedder).data
    embedded = Assistant.from_data(
        on_milvus.model_copy(update={"store": "embedded"}), real_embedder, data
    )
    in_milvus = Assistant.from_data(on_milvus, real_embedder, data)
    assert in_milvus.index.searcher is not embedded.index.searcher
    for question in QUESTIONS:
        a, b = embedded.ask_sync(question), in_milvus.ask_sync(question)
        assert [c.doc_id for c in a.citations] == [c.doc_id for c in b.citations]
        assert [(c.start, c.end) for c in a.citations] == [(c.start, c.end) for c in b.citations]
        assert a.answer == b.answer
        assert [c.score for c in a.citations] == pytest.approx([c.score for c in b.citations])


def test_rrf_fusion_takes_milvus_ranking_and_scores(on_milvus, real_embedder):
    on_milvus = on_milvus.model_copy(update={"model": "bundled:all-MiniLM-L6-v2"})
    data = ingest(on_milvus, real_embedder).data
    rrf = Assistant.from_data(
        on_milvus.model_copy(update={"milvus_fusion": "rrf"}), real_embedder, data
    )
    answer = rrf.ask_sync(QUESTIONS[0])
    assert answer.citations and all(0 < c.score < 2 / 60 for c in answer.citations[:1])


def test_each_build_gets_collections_before_the_switch_and_the_aliases_after(on_milvus, fake):
    client = milvus.client(on_milvus)
    prefix = on_milvus.milvus_prefix
    builds = []
    for k in range(3):
        (on_milvus.corpus_dir / f"extra{k}.txt").write_text(
            f"Extra\n\nData engineers in city {k}.\n"
        )
        builds.append(ingest(on_milvus, fake).build_id)
    chunks_alias = client.describe_alias(alias=f"{prefix}_chunks")
    assert chunks_alias["collection_name"] == milvus.names(prefix, builds[-1])[0]
    ours = {n for n in client.list_collections() if n.startswith(prefix + "_")}
    # The live build and the previous one (a reader may still be on it); older ones dropped.
    assert ours == {*milvus.names(prefix, builds[-1]), *milvus.names(prefix, builds[-2])}
    live = store.load(on_milvus.index_dir)
    assert client.query(
        milvus.names(prefix, builds[-1])[0], filter="row >= 0", output_fields=["row"], limit=10000
    ).__len__() == len(live.chunks)


def test_a_failed_write_to_milvus_leaves_the_previous_build_live(on_milvus, fake, monkeypatch):
    first = ingest(on_milvus, fake).build_id
    (on_milvus.corpus_dir / "lisbon.txt").write_text(
        "Remote\n\nEngineers in Lisbon work remotely.\n"
    )

    def refused(self, data, build_id, progress=False):
        raise StoreError("Milvus refused insert: disk full")

    monkeypatch.setattr(milvus.MilvusStore, "publish", refused)
    with pytest.raises(StoreError):
        ingest(on_milvus, fake)
    assert store.current_build_id(on_milvus.index_dir) == first
    builds = [p.name for p in on_milvus.index_dir.iterdir() if p.name[:8].isdigit()]
    assert builds == [first]  # the unfinished build's folder is gone
    _searches(Assistant.from_data(on_milvus, fake, store.load(on_milvus.index_dir)), fake)


def test_switching_an_index_to_milvus_writes_it_without_embedding(embedded, on_milvus, fake):
    ingest(embedded, fake)
    calls = fake.calls
    data = refresh_index(on_milvus, fake).data
    assert fake.calls == calls  # nothing embedded again
    _searches(Assistant.from_data(on_milvus, fake, data), fake)


def test_a_build_milvus_lacks_is_a_clear_error(embedded, on_milvus, fake):
    data = ingest(embedded, fake).data  # Milvus never saw this build
    with pytest.raises(StoreError, match="no collections for build .* — run `careerqa ingest`"):
        Assistant.from_data(on_milvus, fake, data)


def _searches(assistant: Assistant, fake) -> None:
    """The assistant's store answers a search with chunks of its build."""
    found = assistant.index.searcher.candidates(fake.embed([QUESTIONS[0]])[0], ["junior"], 5)
    assert found.chunk_rows and max(found.chunk_rows) < len(assistant.data.chunks)
    assert found.lexical and set(found.lexical) <= set(range(len(assistant.data.chunks)))


def test_a_store_that_fails_mid_question_is_a_503_not_a_crash(embedded, fake, monkeypatch):
    from careerqa.app import create_app

    from .conftest import started

    app = create_app(embedded, fake)
    with started(app) as client:

        def down(*args, **kwargs):
            raise StoreError("Milvus refused search: connection refused")

        searcher = app.state.holder.assistant.index.searcher
        monkeypatch.setattr(searcher, "candidates", down)
        r = client.post("/ask", json={"question": QUESTIONS[0]})
        assert r.status_code == 503 and "connection refused" in r.json()["detail"]
        streamed = client.post("/ask/stream", json={"question": QUESTIONS[0]}).text
        assert "event: error" in streamed and "connection refused" in streamed
