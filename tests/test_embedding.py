"""The encoder backends: ONNX must give the torch reference's vectors."""

from pathlib import Path

import numpy as np

from careerqa.chunking import ChunkSettings, chunk_document
from careerqa.cleaning import clean
from careerqa.corpus import load_corpus
from careerqa.embedding import SentenceTransformerEmbedder

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
