"""The FAISS wrapper: exact and approximate search, row-number ids, save and load."""

import numpy as np
import pytest

from careerqa import index as index_module
from careerqa.errors import IndexCorruptError
from careerqa.index import VectorIndex


def _clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((50, dim)).astype(np.float32)
    vectors = centers[rng.integers(0, 50, n)] + 0.3 * rng.standard_normal((n, dim)).astype(
        np.float32
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_flat_search_is_exact_inner_product():
    vectors = _clustered(500)
    index = VectorIndex.build(vectors)
    assert index.kind == "flat"
    scores, ids = index.search(vectors[:3], 5)
    assert list(ids[:, 0]) == [0, 1, 2]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)


def test_auto_switches_to_ivf_by_size_and_keeps_recall(monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 2000)
    vectors = _clustered(6000)
    approx = VectorIndex.build(vectors)
    exact = VectorIndex.build(vectors, kind="flat")
    assert approx.kind == "ivf" and len(approx) == 6000
    queries = _clustered(50, seed=1)
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.95


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_remove_renumbers_rows_like_the_chunk_table(kind):
    vectors = _clustered(3000)
    index = VectorIndex.build(vectors, kind=kind)
    index.remove([0, 5])
    assert len(index) == 2998
    _, ids = index.search(vectors[6:7], 1)
    assert ids[0, 0] == 4  # row 6 moved up past the two removed rows


def test_write_and_load_keep_kind_and_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 2000)
    vectors = _clustered(3000)
    index = VectorIndex.build(vectors, kind="ivf")
    np.save(tmp_path / "vectors.npy", vectors)
    index_module.write_index(tmp_path / "vectors.npy", tmp_path / "faiss.index")
    loaded = VectorIndex.load(tmp_path / "faiss.index")
    assert loaded.kind == "ivf" and len(loaded) == 3000
    assert loaded._index.nprobe == index._index.nprobe


def test_unreadable_file_is_a_corrupt_index(tmp_path):
    (tmp_path / "faiss.index").write_bytes(b"not faiss")
    with pytest.raises(IndexCorruptError):
        VectorIndex.load(tmp_path / "faiss.index")


def test_empty_index_searches_to_nothing():
    index = VectorIndex.build(np.zeros((0, 8), dtype=np.float32), 8)
    scores, ids = index.search(np.ones((1, 8), dtype=np.float32), 5)
    assert ids.shape == (1, 0)


def test_an_index_written_from_a_vector_file_is_the_one_built_in_memory(
    tmp_path, monkeypatch, capfd
):
    """A build's IVF index is filled a block at a time and keeps its lists on disk."""
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 2000)
    vectors = _clustered(5000)
    np.save(tmp_path / "vectors.npy", vectors)
    build = tmp_path / "build"
    build.mkdir()
    index_module.write_index(tmp_path / "vectors.npy", build / "faiss.index", block=700)
    assert (build / "faiss.ivfdata").is_file()
    assert sorted(p.name for p in build.iterdir()) == ["faiss.index", "faiss.ivfdata"]
    build.rename(tmp_path / "moved")  # a build is written aside, then renamed
    on_disk = VectorIndex.load(tmp_path / "moved" / "faiss.index")
    in_memory = VectorIndex.build(vectors, kind="ivf")
    assert on_disk.kind == "ivf" and len(on_disk) == len(vectors)
    queries = vectors[::97]
    assert np.array_equal(on_disk.search(queries, 10)[1], in_memory.search(queries, 10)[1])
    assert capfd.readouterr().out == ""  # faiss' own lines go to standard error


def test_a_small_vector_file_gets_a_flat_index(tmp_path):
    vectors = _clustered(300)
    np.save(tmp_path / "vectors.npy", vectors)
    index_module.write_index(tmp_path / "vectors.npy", tmp_path / "faiss.index", block=64)
    assert not (tmp_path / "faiss.ivfdata").exists()
    loaded = VectorIndex.load(tmp_path / "faiss.index")
    assert loaded.kind == "flat" and len(loaded) == 300
    assert list(loaded.search(vectors[:3], 1)[1][:, 0]) == [0, 1, 2]


def test_a_vector_file_cut_short_is_reported_not_indexed(tmp_path):
    np.save(tmp_path / "vectors.npy", _clustered(300))
    cut = tmp_path / "vectors.npy"
    cut.write_bytes(cut.read_bytes()[:-100])
    with pytest.raises(IndexCorruptError, match="ends before its 300 rows"):
        index_module.write_index(cut, tmp_path / "faiss.index", block=64)
