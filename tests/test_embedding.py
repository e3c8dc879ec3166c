"""The encoder backends: ONNX must give the torch reference's vectors."""

import logging
from pathlib import Path

import numpy as np

from careerqa.chunking import ChunkSettings, chunk_document
from careerqa.cleaning import clean
from careerqa.corpus import load_corpus
from careerqa.embedding import SentenceTransformerEmbedder
from careerqa.onnx_encoder import DirectOnnxEncoder

REPO_CORPUS = Path(__file__).parent.parent / "corpus"


def test_onnx_vectors_match_torch_on_the_corpus_chunks(tmp_path):
    torch = SentenceTransformerEmbedder(backend="torch")
    onnx = SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path)
    texts = [
        c.embed_text
        for doc in load_corpus(REPO_CORPUS).documents
        for c in chunk_document(clean(doc), ChunkSettings(160, 1), torch.count_tokens)
    ]
    reference = torch.embed(texts)
    fast = onnx.embed(texts)
    assert type(onnx.model).__name__ == "SentenceTransformer" and onnx.model.backend == "onnx"
    assert reference.shape == fast.shape and fast.dtype == np.float32
    cosine = (reference * fast).sum(axis=1)
    assert cosine.min() >= 0.999
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    # The export is kept: a second load does not export again.
    exported = list((tmp_path / "onnx").iterdir())
    assert len(exported) == 1 and (exported[0] / "onnx" / "model.onnx").is_file()


def _corpus_texts(embedder: SentenceTransformerEmbedder) -> list[str]:
    """Chunk texts and sentences of the real corpus: long and short, mixed."""
    texts = []
    for doc in load_corpus(REPO_CORPUS).documents:
        cleaned = clean(doc)
        for chunk in chunk_document(cleaned, ChunkSettings(160, 1), embedder.count_tokens):
            texts.append(chunk.embed_text)
            texts.extend(cleaned.text[a:b] for a, b in chunk.sentences)
    return texts


def test_direct_onnx_path_gives_sentence_transformers_vectors_in_input_order():
    embedder = SentenceTransformerEmbedder(backend="onnx", batch_size=7)
    texts = _corpus_texts(embedder)[:120] + ["   padded with spaces  ", "x", "Ünïcödé — 💼 career?"]
    model = embedder.model
    assert embedder._direct is not None  # the bundled model has the supported shape
    expected = model.encode(texts, batch_size=7, normalize_embeddings=True, convert_to_numpy=True)
    got = embedder.embed(texts)  # sorted by length into batches of 7, put back in order
    assert got.shape == expected.shape and got.dtype == np.float32
    assert (got * expected).sum(axis=1).min() >= 0.99999
    # One text alone gives the same vector as within a batch of others.
    alone = embedder.embed([texts[5]])[0]
    assert float(alone @ expected[5]) >= 0.99999


def test_direct_onnx_path_declines_when_it_would_change_the_vectors(monkeypatch, caplog):
    model = SentenceTransformerEmbedder(backend="onnx").model
    assert DirectOnnxEncoder.attach(model) is not None
    monkeypatch.setattr(
        DirectOnnxEncoder, "_run", lambda self, ids: np.ones((len(ids), 384), np.float32) / 384**0.5
    )
    with caplog.at_level(logging.WARNING):
        assert DirectOnnxEncoder.attach(model) is None
    assert "differs from sentence-transformers" in caplog.text
    torch_model = SentenceTransformerEmbedder(backend="torch").model
    assert DirectOnnxEncoder.attach(torch_model) is None  # no onnxruntime session to run


def test_onnx_session_threads_do_not_spin_between_calls():
    model = SentenceTransformerEmbedder(backend="onnx").model
    options = model[0].auto_model.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_embedding_with_progress_shows_batches(capsys):
    embedder = SentenceTransformerEmbedder(backend="onnx", batch_size=2)
    vectors = embedder.embed(["one", "two words", "three words here"], progress=True)
    assert vectors.shape == (3, 384)
    assert "embedding" in capsys.readouterr().err
