"""The encoder backends: ONNX must give the torch reference's vectors."""

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from careerqa import embedding, onnx_export
from careerqa.chunking import ChunkSettings, chunk_document
from careerqa.cleaning import clean
from careerqa.corpus import load_corpus
from careerqa.embedding import SentenceTransformerEmbedder
from careerqa.errors import ModelError
from careerqa.onnx_encoder import MARKER, TOKENIZER, DirectOnnxEncoder

REPO_CORPUS = Path(__file__).parent.parent / "corpus"
SPINNING = "session.intra_op.allow_spinning"


def _corpus_texts(count_tokens, sentences: bool = True) -> list[str]:
    """Chunk texts (and their sentences) of the real corpus: long and short, mixed."""
    texts = []
    for doc in load_corpus(REPO_CORPUS).documents:
        cleaned = clean(doc)
        for chunk in chunk_document(cleaned, ChunkSettings(160, 1), count_tokens):
            texts.append(chunk.embed_text)
            if sentences:
                texts.extend(cleaned.text[a:b] for a, b in chunk.sentences)
    return texts


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """An export cache of its own, filled once: export, check, save the direct encoder."""
    folder = tmp_path_factory.mktemp("cache")
    embedding.clear_model_cache()
    SentenceTransformerEmbedder(backend="onnx", cache_dir=folder).embed(["fill the cache"])
    return folder


def test_onnx_vectors_match_torch_on_the_corpus_chunks(cache):
    torch = SentenceTransformerEmbedder(backend="torch")
    onnx = SentenceTransformerEmbedder(backend="onnx", cache_dir=cache)
    texts = _corpus_texts(torch.count_tokens, sentences=False)
    reference = torch.embed(texts)
    fast = onnx.embed(texts)
    assert onnx._direct is not None  # what serves: onnxruntime, no torch per call
    assert onnx.model.backend == "onnx"
    assert reference.shape == fast.shape and fast.dtype == np.float32
    cosine = (reference * fast).sum(axis=1)
    assert cosine.min() >= 0.999
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert onnx.count_tokens(texts) == torch.count_tokens(texts)
    # The export and the checked encoder are kept: later loads do neither again.
    exported = list((cache / "onnx").iterdir())
    assert len(exported) == 1 and (exported[0] / "onnx" / "model.onnx").is_file()
    assert (exported[0] / MARKER).is_file() and (exported[0] / TOKENIZER).is_file()


def test_direct_onnx_path_gives_sentence_transformers_vectors_in_input_order(cache):
    embedder = SentenceTransformerEmbedder(backend="onnx", batch_size=7, cache_dir=cache)
    texts = _corpus_texts(embedder.count_tokens)[:120]
    texts += ["   padded with spaces  ", "x", "Ünïcödé — 💼 career?"]
    model = embedder.model
    expected = model.encode(texts, batch_size=7, normalize_embeddings=True, convert_to_numpy=True)
    got = embedder.embed(texts)  # sorted by length into batches of 7, put back in order
    assert got.shape == expected.shape and got.dtype == np.float32
    assert (got * expected).sum(axis=1).min() >= 0.99999
    # One text alone gives the same vector as within a batch of others.
    alone = embedder.embed([texts[5]])[0]
    assert float(alone @ expected[5]) >= 0.99999


def test_a_process_never_imports_torch_even_on_first_start(tmp_path):
    """First start: the export and check run in a child; the next start just loads."""
    texts = ["How much do junior ML engineers earn?", "Do I need a degree?"]
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from careerqa import embedding\n"
        "out = []\n"
        "for start in (1, 2):\n"
        "    embedding.clear_model_cache()\n"
        "    e = embedding.SentenceTransformerEmbedder(backend='auto', cache_dir=Path(sys.argv[1]))\n"
        "    v = e.embed(json.loads(sys.argv[2]))\n"
        "    options = e._direct.session.get_session_options()\n"
        "    out.append({'torch': 'torch' in sys.modules,\n"
        "                'st': 'sentence_transformers' in sys.modules,\n"
        f"                'spin': options.get_session_config_entry('{SPINNING}'),\n"
        "                'vectors': v.tolist()})\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    reference = SentenceTransformerEmbedder(backend="torch").embed(texts)
    for start in json.loads(done.stdout):
        assert not start["torch"] and not start["st"]
        assert start["spin"] == "0"  # idle threads do not spin between calls
        assert (np.array(start["vectors"]) * reference).sum(axis=1).min() >= 0.999
    exported = next((tmp_path / "onnx").iterdir())
    assert json.loads((exported / MARKER).read_text())["direct"] is True


def test_a_model_that_fails_the_check_is_served_by_sentence_transformers(
    cache, tmp_path, monkeypatch
):
    shutil.copytree(cache / "onnx", tmp_path / "onnx")
    exported = next((tmp_path / "onnx").iterdir())
    (exported / MARKER).unlink()
    monkeypatch.setattr(
        DirectOnnxEncoder, "_run", lambda self, ids: np.ones((len(ids), 384), np.float32) / 384**0.5
    )
    model_folder = Path(embedding.resolve_model(embedding.DEFAULT_MODEL))
    model, direct = onnx_export.prepare(model_folder, tmp_path)
    assert direct is None and model.backend == "onnx"
    assert json.loads((exported / MARKER).read_text())["direct"] is False
    # Later starts read the refusal and neither check again nor spawn a child.
    embedding.clear_model_cache()
    monkeypatch.setattr(
        onnx_export, "prepare_in_child", lambda *a, **k: pytest.fail("checked again")
    )
    monkeypatch.setattr(DirectOnnxEncoder, "attach", lambda model: pytest.fail("checked again"))
    again = SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path)
    vector = again.embed(["What is MLOps?"])
    assert again._direct is None
    expected = model.encode(["What is MLOps?"], normalize_embeddings=True)
    assert float(vector[0] @ expected[0]) >= 0.99999


def test_a_damaged_cache_falls_back_and_is_repaired(cache, caplog):
    exported = next((cache / "onnx").iterdir())
    (exported / TOKENIZER).write_text("{not a tokenizer")
    embedding.clear_model_cache()
    embedder = SentenceTransformerEmbedder(backend="onnx", cache_dir=cache)
    with caplog.at_level(logging.WARNING):
        vector = embedder.embed(["What do bootcamps cost?"])
    assert "cannot use the saved ONNX encoder" in caplog.text
    assert embedder._direct is not None and vector.shape == (1, 384)
    json.loads((exported / TOKENIZER).read_text())  # checked again and saved again
    assert DirectOnnxEncoder.load(exported) is not None


def test_direct_onnx_path_declines_when_it_would_change_the_vectors(cache, monkeypatch, caplog):
    model = SentenceTransformerEmbedder(backend="onnx", cache_dir=cache).model
    assert DirectOnnxEncoder.attach(model) is not None
    options = model[0].auto_model.session.get_session_options()
    assert options.get_session_config_entry(SPINNING) == "0"
    monkeypatch.setattr(
        DirectOnnxEncoder, "_run", lambda self, ids: np.ones((len(ids), 384), np.float32) / 384**0.5
    )
    with caplog.at_level(logging.WARNING):
        assert DirectOnnxEncoder.attach(model) is None
    assert "differs from sentence-transformers" in caplog.text
    torch_model = SentenceTransformerEmbedder(backend="torch").model
    assert DirectOnnxEncoder.attach(torch_model) is None  # no onnxruntime session to run


def test_embedding_with_progress_shows_batches(cache, capsys):
    embedder = SentenceTransformerEmbedder(backend="onnx", batch_size=2, cache_dir=cache)
    vectors = embedder.embed(["one", "two words", "three words here"], progress=True)
    assert vectors.shape == (3, 384)
    assert "embedding" in capsys.readouterr().err


def test_model_calls_are_capped_in_rows_and_padded_tokens():
    from careerqa.onnx_encoder import _runs

    lengths = [5, 300, 40, 40, 12, 7, 90, 90, 90, 3] * 5
    runs = _runs(lengths, batch_size=8, budget=256)
    assert sorted(r for run in runs for r in run) == list(range(len(lengths)))
    for run in runs:
        longest = max(lengths[r] for r in run)
        assert lengths[run[0]] == longest  # longest first: it sets the padding
        assert len(run) <= 8
        assert len(run) == 1 or len(run) * longest <= 256  # a lone long text still runs
    assert [lengths[run[0]] for run in runs] == sorted(
        (lengths[run[0]] for run in runs), reverse=True
    )


def test_auto_falls_back_to_torch_when_onnx_cannot_load(tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("the ONNX cache cannot be created under a file")
    auto = SentenceTransformerEmbedder(backend="auto", cache_dir=blocked)
    with caplog.at_level(logging.WARNING):
        vector = auto.embed(["Is a master's degree required?"])
    assert "ONNX backend unavailable" in caplog.text and "using torch" in caplog.text
    assert auto._direct is None and auto.model.backend == "torch"
    reference = SentenceTransformerEmbedder(backend="torch").embed(
        ["Is a master's degree required?"]
    )
    assert float(vector[0] @ reference[0]) >= 0.99999
    strict = SentenceTransformerEmbedder(backend="onnx", cache_dir=blocked)
    with pytest.raises(ModelError, match="with ONNX"):
        strict.embed(["x"])
