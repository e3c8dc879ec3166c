"""Ingest: incremental rebuilds, atomic switches, corrupt and missing indexes."""

import json

import numpy as np
import pytest

from careerqa import index as index_module
from careerqa import store
from careerqa.assistant import Assistant
from careerqa.errors import (
    CorpusError,
    IndexCorruptError,
    IndexMissingError,
    IndexWriteError,
    ModelError,
)
from careerqa.index import VectorIndex
from careerqa.ingest import ingest, refresh_index
from careerqa.manifest import FORMAT_VERSION

from .conftest import FakeEmbedder


def _chunk_ids(settings, doc_id=None):
    data = store.load(settings.index_dir)
    return {c.chunk.chunk_id for c in data.chunks if doc_id in (None, c.chunk.doc_id)}


def test_first_ingest_builds_everything(settings, fake):
    report = ingest(settings, fake)
    assert sorted(report.added) == ["portfolio", "salaries", "skills"]
    assert report.full and report.chunks_embedded > 0
    assert dict(report.skipped)["notes.pdf"].startswith("not a readable PDF")
    data = store.load(settings.index_dir)
    assert len(data.chunks) == len(data.vectors) == len(data.vector_index) == report.chunks_embedded
    manifest = json.loads((store.current_build(settings.index_dir) / "manifest.json").read_text())
    assert manifest["model"] == "fake" and manifest["dimension"] == 64
    assert set(manifest["documents"]) == {"portfolio", "salaries", "skills"}
    assert manifest["settings_key"]["chunk_tokens"] == settings.chunk_tokens
    assert manifest["built_at"] and manifest["package_version"]


def test_no_change_embeds_nothing(settings, fake):
    ingest(settings, fake)
    before = store.current_build_id(settings.index_dir)
    fresh = type(fake)()
    report = ingest(settings, fresh)
    assert fresh.calls == 0 and report.chunks_embedded == 0
    assert not report.did_change and len(report.unchanged) == 3
    assert store.current_build_id(settings.index_dir) == before


def test_no_change_never_loads_the_model(settings, fake):
    from careerqa.embedding import SentenceTransformerEmbedder

    ingest(settings, fake)
    real = SentenceTransformerEmbedder(settings.model)  # "fake": loading it would fail
    report = ingest(settings, real)
    assert not report.did_change and not real.loaded


def test_changing_one_file_reembeds_only_its_chunks(settings, fake, corpus_dir):
    ingest(settings, fake)
    untouched = _chunk_ids(settings, "salaries") | _chunk_ids(settings, "skills")
    old_vectors = {
        c.chunk.chunk_id: store.load(settings.index_dir).vectors[i]
        for i, c in enumerate(store.load(settings.index_dir).chunks)
    }
    path = corpus_dir / "portfolio.txt"
    path.write_text(path.read_text() + "\nRecruiters also read your README files closely.\n")
    counting = type(fake)()
    report = ingest(settings, counting)
    assert report.changed == ["portfolio"] and report.added == report.removed == []
    data = store.load(settings.index_dir)
    portfolio_chunks = [c for c in data.chunks if c.chunk.doc_id == "portfolio"]
    portfolio_sentences = sum(c.sentence_rows[1] - c.sentence_rows[0] for c in portfolio_chunks)
    assert report.chunks_embedded == len(portfolio_chunks)
    assert counting.texts_embedded <= len(portfolio_chunks) + portfolio_sentences
    assert untouched <= _chunk_ids(settings)
    # Reused vectors are the very same rows as before.
    for i, c in enumerate(data.chunks):
        if c.chunk.chunk_id in untouched:
            assert np.array_equal(data.vectors[i], old_vectors[c.chunk.chunk_id])
    # Sentence rows still line up with the sentence vectors after the re-layout.
    for c in data.chunks:
        lo, hi = c.sentence_rows
        assert hi - lo == len(c.chunk.sentences)
        doc = data.documents[c.chunk.doc_id]
        a, b = c.chunk.sentences[0]
        expected = counting.embed([doc.text[a:b]])[0]
        assert np.allclose(data.sentence_vectors[lo], expected, atol=1e-6)


def test_removing_a_file_drops_its_chunks(settings, fake, corpus_dir):
    ingest(settings, fake)
    (corpus_dir / "skills.txt").unlink()
    counting = type(fake)()
    report = ingest(settings, counting)
    assert report.removed == ["skills"] and counting.calls == 0
    data = store.load(settings.index_dir)
    assert "skills" not in data.documents
    assert all(c.chunk.doc_id != "skills" for c in data.chunks)
    assert len(data.vector_index) == len(data.chunks)


def test_full_rebuild_embeds_everything_again(settings, fake):
    first = ingest(settings, fake)
    report = ingest(settings, fake, full=True)
    assert report.full and report.chunks_embedded == first.chunks_embedded


def test_changed_settings_rebuild_everything(settings, fake):
    ingest(settings, fake)
    changed = settings.model_copy(update={"chunk_tokens": 48})
    report = ingest(changed, fake)
    assert report.full and "settings changed" in report.reason


def test_crash_mid_build_leaves_previous_index_live(settings, fake, corpus_dir, monkeypatch):
    ingest(settings, fake)
    before = store.current_build_id(settings.index_dir)
    old_chunks = _chunk_ids(settings)
    (corpus_dir / "portfolio.txt").write_text("Totally new text about portfolios and pay.\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_index", boom)
    with pytest.raises(IndexWriteError, match="disk full"):
        ingest(settings, fake)
    monkeypatch.undo()
    assert store.current_build_id(settings.index_dir) == before
    assert _chunk_ids(settings) == old_chunks
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_crash_before_switch_leaves_previous_index_live(settings, fake, corpus_dir, monkeypatch):
    """A process killed between writing a build and switching to it."""
    ingest(settings, fake)
    before = store.current_build_id(settings.index_dir)
    (corpus_dir / "portfolio.txt").write_text("Totally new text about portfolios and pay.\n")
    real_replace = store.os.replace

    def dies(src, dst):
        if str(dst).endswith(store.CURRENT):
            raise KeyboardInterrupt  # stands in for SIGKILL at the worst moment
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, fake)
    monkeypatch.undo()
    assert store.current_build_id(settings.index_dir) == before
    store.load(settings.index_dir)  # whole and checksummed
    # The next ingest finishes the job.
    assert ingest(settings, fake).changed == ["portfolio"]


def test_missing_index_is_a_clear_error(settings):
    with pytest.raises(IndexMissingError, match="careerqa ingest"):
        store.load(settings.index_dir)


def test_corrupt_index_file_is_detected_and_rebuilt(settings, fake):
    ingest(settings, fake)
    vectors = store.current_build(settings.index_dir) / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-16] + b"\x00" * 16)
    with pytest.raises(IndexCorruptError, match="checksum"):
        store.load(settings.index_dir)
    report = ingest(settings, fake)
    assert report.full and "unusable" in report.reason
    store.load(settings.index_dir)


def test_empty_corpus_is_a_clear_error(settings, fake, corpus_dir):
    for path in corpus_dir.iterdir():
        path.unlink()
    with pytest.raises(CorpusError, match="no usable"):
        ingest(settings, fake)


def test_both_faiss_indexes_are_stored_and_loaded_without_rebuilding(settings, fake, monkeypatch):
    ingest(settings, fake)
    build = store.current_build(settings.index_dir)
    assert (build / "sentence_faiss.index").is_file()
    built = []
    original = VectorIndex.build.__func__
    monkeypatch.setattr(
        VectorIndex,
        "build",
        classmethod(lambda cls, *a, **k: built.append(1) or original(cls, *a, **k)),
    )
    data = store.load(settings.index_dir)
    Assistant.from_data(settings, fake, data)
    assert built == []  # no FAISS index built (or IVF trained) at load time
    assert len(data.sentence_index) == len(data.sentence_vectors) > len(data.chunks)


def test_an_index_of_an_older_format_is_rebuilt(settings, fake):
    ingest(settings, fake)
    manifest = store.current_build(settings.index_dir) / "manifest.json"
    raw = json.loads(manifest.read_text())
    raw["format_version"] = FORMAT_VERSION - 1
    manifest.write_text(json.dumps(raw))
    with pytest.raises(IndexCorruptError, match="ingest --full"):
        store.load(settings.index_dir)
    report = ingest(settings, fake)
    assert report.full and "format" in report.reason
    assert store.load(settings.index_dir).manifest.format_version == FORMAT_VERSION


def test_ingest_hands_over_the_index_it_loaded_or_built(settings, fake, monkeypatch):
    loads = []
    original = store.load
    monkeypatch.setattr(store, "load", lambda d, **k: loads.append(d) or original(d, **k))
    first = Assistant.from_data(settings, fake, refresh_index(settings, fake).data)
    # ^ builds: the new build is served from memory
    assert first.build_id == store.current_build_id(settings.index_dir)
    assert len(loads) == 1  # the attempt that found no index
    loads.clear()
    again = Assistant.from_data(settings, fake, refresh_index(settings, fake).data)
    # ^ no change: loaded once, by ingest
    assert len(loads) == 1 and again.build_id == first.build_id
    assert (
        again.ask_sync("What do juniors earn?").answered
        == first.ask_sync("What do juniors earn?").answered
    )


def test_chunks_longer_than_the_model_reads_are_refused(settings, fake):
    too_long = settings.model_copy(update={"chunk_tokens": fake.max_tokens + 1})
    with pytest.raises(ModelError, match=f"reads {fake.max_tokens} word pieces") as refused:
        ingest(too_long, fake)
    assert "CAREERQA_CHUNK_TOKENS" in str(refused.value)
    assert store.current_build_id(settings.index_dir) is None  # nothing was written
    at_the_limit = settings.model_copy(update={"chunk_tokens": fake.max_tokens})
    assert ingest(at_the_limit, fake).chunks_embedded > 0


class _Killed(Exception):
    """Stands for the process being killed in the middle of embedding."""


def _killed_in_the_second_batch(settings, fake, monkeypatch):
    """Run an ingest of one document a batch that dies embedding the second; returns the
    embedder's real `embed` (the fake's is replaced until the caller puts it back)."""
    from careerqa import ingest as ingesting

    monkeypatch.setattr(ingesting, "DOCS_PER_BATCH", 1)
    real_embed = fake.embed

    def dies_on_the_second_batch(texts, *, progress=False):
        if fake.calls == 1:
            fake.calls += 1
            raise _Killed
        return real_embed(texts, progress=progress)

    monkeypatch.setattr(fake, "embed", dies_on_the_second_batch)
    with pytest.raises(_Killed):
        ingest(settings, fake)
    return real_embed


def test_a_killed_ingest_resumes_without_embedding_again(settings, fake, monkeypatch):
    """Documents are embedded a batch at a time and staged on disk as soon as they are;
    the run after a kill embeds only what the killed run had not finished."""
    real_embed = _killed_in_the_second_batch(settings, fake, monkeypatch)
    assert store.current_build_id(settings.index_dir) is None  # nothing switched
    staged = list((settings.index_dir / "staging").rglob("*.npz"))
    assert len(staged) == 1  # the first document, finished before the kill

    monkeypatch.setattr(fake, "embed", real_embed)
    fake.calls = fake.texts_embedded = 0
    report = ingest(settings, fake)
    assert report.resumed == 1 and fake.calls == 2  # the two other documents only
    assert not (settings.index_dir / "staging").exists()  # emptied by the successful build

    whole = FakeEmbedder()
    fresh_settings = settings.model_copy(update={"index_dir": settings.index_dir.parent / "b"})
    ingest(fresh_settings, whole)
    resumed, straight = store.load(settings.index_dir), store.load(fresh_settings.index_dir)
    assert [c.chunk for c in resumed.chunks] == [c.chunk for c in straight.chunks]
    assert np.array_equal(resumed.vectors, straight.vectors)
    assert np.array_equal(resumed.sentence_vectors, straight.sentence_vectors)


def test_an_unreadable_staged_document_is_embedded_again(settings, fake, monkeypatch):
    real_embed = _killed_in_the_second_batch(settings, fake, monkeypatch)
    (staged,) = (settings.index_dir / "staging").rglob("*.npz")
    staged.write_bytes(b"half a file")
    monkeypatch.setattr(fake, "embed", real_embed)
    report = ingest(settings, fake)
    assert report.resumed == 0 and len(report.added) == 3


def test_two_files_with_the_same_text_are_both_staged_and_indexed(settings, fake):
    text = (settings.corpus_dir / "skills.txt").read_text()
    (settings.corpus_dir / "skills-copy.txt").write_text(text)
    report = ingest(settings, fake)
    assert {"skills", "skills-copy"} <= set(report.added)
    data = store.load(settings.index_dir)
    assert {"skills", "skills-copy"} <= {c.chunk.doc_id for c in data.chunks}


def test_a_failed_rebuild_leaves_the_live_build_in_memory_as_it_was(settings, fake, monkeypatch):
    live = ingest(settings, fake).data
    rows = {d.doc_id: (d.chunk_rows, d.sentence_rows) for d in live.documents.values()}
    (settings.corpus_dir / "portfolio.txt").unlink()  # later documents move up a few rows

    def disk_full(*args, **kwargs):
        raise IndexWriteError("cannot write the index: no space left on device")

    monkeypatch.setattr(store.BuildWriter, "publish", disk_full)
    with pytest.raises(IndexWriteError):
        ingest(settings, fake, known=live)
    assert {d.doc_id: (d.chunk_rows, d.sentence_rows) for d in live.documents.values()} == rows
    monkeypatch.undo()
    again = ingest(settings, fake, known=live).data  # reuses the live build's rows correctly
    for doc in again.documents.values():
        lo, hi = doc.chunk_rows
        assert {c.chunk.doc_id for c in again.chunks[lo:hi]} == {doc.doc_id}


def test_an_ingest_with_everything_staged_never_loads_the_model(settings, fake, monkeypatch):
    def disk_full(*args, **kwargs):
        raise IndexWriteError("cannot write the index: no space left on device")

    monkeypatch.setattr(store.BuildWriter, "publish", disk_full)
    with pytest.raises(IndexWriteError):
        ingest(settings, fake)  # every document embedded and staged, no build written
    monkeypatch.undo()

    class Unloaded(FakeEmbedder):
        @property
        def dimension(self):  # what a real embedder loads its model to tell
            raise AssertionError("the model was loaded")

    unloaded = Unloaded()
    report = ingest(settings, unloaded)
    assert report.resumed == 3 and unloaded.calls == 0
    assert store.load(settings.index_dir).manifest.dimension == FakeEmbedder.dimension


def test_ivf_indexes_keep_their_lists_beside_them_checksummed(settings, fake, monkeypatch):
    """From APPROXIMATE_FROM vectors on, a build's index keeps its lists on disk."""
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 60)
    for n in range(3):
        lines = (
            f"Fact {i} of article {n}: skill {i % 7} pays {1000 * i} a year." for i in range(40)
        )
        (settings.corpus_dir / f"long-{n}.md").write_text(f"# Article {n}\n\n" + " ".join(lines))
    report = ingest(settings, fake)
    build = store.current_build(settings.index_dir)
    data = store.load(settings.index_dir)
    assert data.sentence_index.kind == "ivf"
    assert len(data.sentence_index) == len(data.sentence_vectors) > 60
    assert "sentence_faiss.ivfdata" in data.manifest.checksums
    found = report.data.sentence_index.search(data.sentence_vectors[:3], 1)[1]
    assert found[:, 0].tolist() == [0, 1, 2]
    with (build / "sentence_faiss.ivfdata").open("r+b") as lists:  # in place: it is mapped
        lists.seek(-8, 2)
        lists.write(b"\xff" * 8)  # no stored id is -1
    with pytest.raises(IndexCorruptError, match="sentence_faiss.ivfdata does not match"):
        store.load(settings.index_dir)


def test_an_ingest_reads_its_build_back_only_when_asked(settings, fake, monkeypatch):
    opened = []
    original = store.open_build
    monkeypatch.setattr(store, "open_build", lambda *a: opened.append(a) or original(*a))
    report = ingest(settings, fake)
    assert opened == []  # `careerqa ingest` never holds the build it wrote
    assert len(report.data.chunks) == report.data.manifest.counts["chunks"]
    assert opened == [(settings.index_dir, report.build_id)]
