"""The question encoder adapted to the corpus: its training pairs, the build's files,
how questions reach it, and what happens when adapting fails."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from careerqa import adapting, store
from careerqa.assistant import Assistant
from careerqa.batching import BatchingEmbedder
from careerqa.errors import IndexCorruptError
from careerqa.ingest import ingest
from careerqa.settings import Settings

from .conftest import FakeEmbedder

ANALYST = Path(__file__).parent / "data" / "analyst"


def _pairs(settings: Settings) -> list[tuple[str, str]]:
    data = ingest(settings, FakeEmbedder()).data
    found: list[tuple[str, str]] = []
    for doc_id, document in data.documents.items():
        chunks = [c for c in data.chunks if c.chunk.doc_id == doc_id]
        found.extend(adapting.pairs_of(document, chunks))
    return found


def test_headings_and_item_labels_are_the_questions(tmp_path):
    settings = Settings(corpus_dir=ANALYST, index_dir=tmp_path / "index")
    pairs = _pairs(settings)
    labels = {label for label, _ in pairs}
    assert {"Tools of the Trade", "Practice", "Salary"} <= labels  # headings
    assert {"Excel", "SQL", "Scripted Checks", "Entry-Level Analysts"} <= labels  # item labels
    text = dict(pairs)
    assert text["SQL"] == "Used to pull and join data from company databases."
    assert "Public datasets on Kaggle" in text["Practice"]
    # An item with no label, and prose, are no question.
    assert not any(label.startswith("Fixing missing values") for label in labels)
    assert not any(label.startswith("Data analysts turn") for label in labels)


def test_the_date_under_a_title_is_no_answer_to_the_title(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# Becoming a Nurse\n\nLast updated on March 3, 2024\n\n## Training\n\n"
        "Most nurses study for a degree.\n"
    )
    pairs = _pairs(Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="fake"))
    assert pairs == [("Training", "Most nurses study for a degree.")]


def test_the_kept_pairs_depend_on_the_pairs_not_their_order():
    pairs = [(f"Label {i}", f"The text of item number {i} says something.") for i in range(50)]
    forward, backward = adapting.Pairs(limit=10), adapting.Pairs(limit=10)
    forward.add(iter(pairs))
    backward.add(iter(reversed(pairs + pairs[:5])))  # repeats count once
    assert len(forward) == 10
    assert forward.sorted() == backward.sorted()


def test_too_few_pairs_train_nothing(tmp_path, caplog):
    pairs = adapting.Pairs()
    pairs.add(iter([("Salary", "Analysts earn $60,000 a year at the start of a career.")]))
    with caplog.at_level(logging.INFO, logger="careerqa.adapting"):
        assert not adapting.adapt(pairs, tmp_path / "no-model", tmp_path)
    assert "1 heading/label pairs (32 needed)" in caplog.text
    assert not (tmp_path / adapting.QUERY_MODEL).exists()


def test_a_failed_child_leaves_no_files_and_says_why(tmp_path, caplog):
    pairs = adapting.Pairs()
    pairs.add(iter((f"Label {i}", f"Text of item {i} that is long enough.") for i in range(40)))
    with caplog.at_level(logging.WARNING, logger="careerqa.adapting"):
        assert not adapting.adapt(pairs, tmp_path / "no-such-model", tmp_path)
    assert "adapting failed" in caplog.text and "shared model" in caplog.text
    assert not list(tmp_path.glob("query_*"))


class _Named(FakeEmbedder):
    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.seen: list[list[str]] = []

    def embed(self, texts, *, progress=False):
        self.seen.append(list(texts))
        return super().embed(texts, progress=progress)


def test_questions_through_a_builds_encoder_are_batched_with_their_own():
    shared, adapted = _Named("shared"), _Named("adapted")
    batcher = BatchingEmbedder(shared, max_batch=8)
    through = batcher.through(adapted)

    async def ask_both():
        return await asyncio.gather(
            through.embed_async(["a question for the new build"]),
            batcher.embed_async(["a question for the old build"]),
        )

    try:
        new, old = asyncio.run(ask_both())
    finally:
        batcher.close()
    assert [t for call in adapted.seen for t in call] == ["a question for the new build"]
    assert [t for call in shared.seen for t in call] == ["a question for the old build"]
    assert new.shape == old.shape == (1, FakeEmbedder.dimension)


@pytest.fixture(scope="module")
def adapted_build(tmp_path_factory, real_embedder, monkeypatch_module):
    """The tests' article, ingested with the real model; few pairs, so the minimum is lowered."""
    monkeypatch_module.setattr(adapting, "MIN_PAIRS", 8)
    root = tmp_path_factory.mktemp("adapted")
    settings = Settings(corpus_dir=ANALYST, index_dir=root / "index")
    report = ingest(settings, real_embedder)
    return settings, report


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_ingest_trains_the_builds_question_encoder(adapted_build, real_embedder):
    settings, report = adapted_build
    assert report.questions == "adapted"
    assert "questions adapted to the corpus" in report.summary()
    data = store.load(settings.index_dir)
    assert data.manifest.questions == "adapted"
    assert {adapting.QUERY_MODEL, adapting.QUERY_ENCODER} <= set(data.manifest.checksums)
    assistant = Assistant.from_data(settings, real_embedder, data)
    assert isinstance(assistant.questions, adapting.AdaptedEmbedder)
    # Trained on them: a label picks out its own text among the others more surely.
    pairs = adapting.Pairs()
    for doc_id, document in data.documents.items():
        chunks = [c for c in data.chunks if c.chunk.doc_id == doc_id]
        pairs.add(adapting.pairs_of(document, chunks))
    labels, texts = zip(*pairs.sorted(), strict=True)
    targets = real_embedder.embed(list(texts))
    before = _ranking_loss(real_embedder.embed(list(labels)), targets)
    after = _ranking_loss(assistant.questions.embed(list(labels)), targets)
    assert after < before - 0.05, (before, after)
    assert np.allclose(np.linalg.norm(assistant.questions.embed(["salary"]), axis=1), 1.0)
    answer = assistant.ask_sync("How much do senior analysts earn?")
    assert answer.answered and "$90,000 to $110,000" in answer.answer


def _ranking_loss(questions: np.ndarray, texts: np.ndarray) -> float:
    """Mean cross-entropy of each question's own text among all (row i answers row i)."""
    logits = adapting.SCALE * questions @ texts.T
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.diag(log_p).mean())


def test_a_damaged_question_encoder_is_a_corrupt_index(adapted_build, tmp_path):
    settings, _ = adapted_build
    copy = tmp_path / "index"
    shutil.copytree(settings.index_dir, copy)
    build = store.current_build(copy)
    assert build is not None
    model = build / adapting.QUERY_MODEL
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(IndexCorruptError, match="checksum"):
        store.load(copy)
    with pytest.raises(IndexCorruptError, match="question encoder"):
        adapting.question_embedder(build, FakeEmbedder())


def test_an_unchanged_build_from_before_adaptation_is_adapted_without_embedding(
    adapted_build, real_embedder, tmp_path, monkeypatch
):
    settings, _ = adapted_build
    index = tmp_path / "index"
    shutil.copytree(settings.index_dir, index)
    build = store.current_build(index)
    assert build is not None
    manifest = build / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"questions": "adapted"', '"questions": ""'))
    monkeypatch.setattr(adapting, "MIN_PAIRS", 8)
    moved = settings.model_copy(update={"index_dir": index})
    report = ingest(moved, real_embedder)
    assert report.reason == "questions not yet adapted to the corpus"
    assert report.chunks_embedded == 0 and report.questions == "adapted"
    assert store.current_build_id(index) != build.name
    again = ingest(moved, real_embedder)
    assert again.build_id is None  # adapted now: nothing to do


def test_adaptation_can_be_turned_off(tmp_path, real_embedder):
    settings = Settings(corpus_dir=ANALYST, index_dir=tmp_path / "index", adapt_questions=False)
    report = ingest(settings, real_embedder)
    data = store.load(settings.index_dir)
    assert report.questions == data.manifest.questions == "shared"
    assert Assistant.from_data(settings, real_embedder, data).questions is real_embedder
