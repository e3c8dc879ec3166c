"""Running an exported ONNX sentence model straight on onnxruntime, without torch.

`SentenceTransformer.encode` on the ONNX backend still goes through torch for
the tensors, the pooling and the normalizing; that costs about 1.4 ms of a 3.5
ms question on these machines, and importing torch costs a process about 3 s
and 380 MB. For the common model shape — a transformer, mean pooling,
normalize — this module does the same arithmetic with the tokenizer, the
onnxruntime session and numpy, and batches long lists by token length so short
sentences are not padded to long chunks.

It is trusted only after giving `encode()`'s vectors on probe texts
(`DirectOnnxEncoder.attach`); the tokenizer and settings it was checked with
are then saved beside the exported model (`save`), or the refusal recorded
(`decline`). The export and the check run once, in a child process
(`embedding.py`); every process then loads the encoder from the saved files
(`load`) without importing torch or sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

log = logging.getLogger(__name__)

# Texts of different lengths, one longer than the model reads, to compare against encode().
_PROBES = [
    "How much do machine learning engineers earn?",
    "  Bootcamps, degrees and self-study:\tthree routes into the field.  ",
    " ".join(["Portfolio projects show employers what you can build."] * 30),
]
_SAME_VECTOR = 0.99999  # cosine: float noise only
MARKER = "careerqa-direct.json"  # the outcome of the check: direct encoder or not
TOKENIZER = "careerqa-tokenizer.json"
_MARKER_FORMAT = 1
# Padded tokens a model call may hold. onnxruntime keeps its memory arena at the
# largest call's size: without a cap, one batch of 32 long questions (32 x 256
# tokens) grew the server by 300 MB for good; with it, a call needs ~25 MB at most.
# Measured on ingest: as fast as fixed batches of 32 (fewer padded tokens).
TOKENS_PER_RUN = 2048
# Texts tokenized at once: enough to sort by length well, few enough to bound memory.
TEXTS_PER_WINDOW = 4096


def session_options() -> Any:
    """onnxruntime options for a small machine shared with a web server.

    Idle worker threads would otherwise spin for a while after each call,
    taking the CPU the event loop needs between batches; measured on 2 cores,
    turning it off raised /ask throughput at 16 clients by ~15% and cut p99 by
    ~20%, with bulk encoding unchanged.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class DirectOnnxEncoder:
    """Transformer → mean pooling → unit length, on an onnxruntime session."""

    def __init__(self, session: Any, tokenizer_json: str, max_tokens: int, pad_id: int):
        from tokenizers import Tokenizer

        self.session = session
        self.inputs = {i.name for i in session.get_inputs()}
        self.dimension = int(session.get_outputs()[0].shape[-1])
        self.max_tokens = max_tokens
        self.pad_id = pad_id
        self.tokenizer_json = tokenizer_json
        # Own copies: a shared tokenizer carries truncation and padding state per call.
        self._counter = Tokenizer.from_str(tokenizer_json)
        self._counter.no_padding()
        self._counter.no_truncation()
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens)

    @classmethod
    def from_model(cls, model: Any) -> DirectOnnxEncoder:
        """The encoder for a loaded SentenceTransformer on the ONNX backend."""
        hf_tokenizer = model.tokenizer
        return cls(
            model[0].auto_model.session,
            hf_tokenizer.backend_tokenizer.to_str(),
            int(model.max_seq_length),
            int(hf_tokenizer.pad_token_id or 0),
        )

    @classmethod
    def attach(cls, model: Any) -> DirectOnnxEncoder | None:
        """An encoder for `model` if it has the supported shape and gives its vectors."""
        if not _supported(model):
            return None
        encoder = cls.from_model(model)
        # One text a call: padding the short probes to the long one would triple the cost.
        expected = model.encode(
            _PROBES, batch_size=1, normalize_embeddings=True, convert_to_numpy=True
        )
        got = encoder.encode(_PROBES, batch_size=1)
        cosine = (got * expected).sum(axis=1).min() if got.shape == expected.shape else 0.0
        if cosine < _SAME_VECTOR:
            log.warning(
                "direct ONNX encoding differs from sentence-transformers (cosine %.6f); "
                "using encode()",
                cosine,
            )
            return None
        return encoder

    def save(self, folder: Path) -> None:
        """Record beside the exported model that this encoder was checked, and how to rebuild it."""
        (folder / TOKENIZER).write_text(self.tokenizer_json)
        _write_marker(
            folder, {"direct": True, "max_tokens": self.max_tokens, "pad_id": self.pad_id}
        )

    @staticmethod
    def decline(folder: Path) -> None:
        """Record that the model in `folder` runs through sentence-transformers instead."""
        _write_marker(folder, {"direct": False})

    @staticmethod
    def declined(folder: Path) -> bool:
        """Whether `folder` records that the model failed the check (see `decline`)."""
        try:
            marker = json.loads((folder / MARKER).read_text())
        except (OSError, ValueError):
            return False
        return marker.get("format") == _MARKER_FORMAT and marker.get("direct") is False

    @classmethod
    def open(
        cls, model: Path, tokenizer_json: str, max_tokens: int, pad_id: int
    ) -> DirectOnnxEncoder:
        """An encoder over an exported model file, on careerqa's session options."""
        import onnxruntime as ort

        session = ort.InferenceSession(
            str(model), session_options(), providers=["CPUExecutionProvider"]
        )
        return cls(session, tokenizer_json, max_tokens, pad_id)

    @classmethod
    def load(cls, folder: Path) -> DirectOnnxEncoder | None:
        """The encoder saved in an export folder, or None if there is none (or it is unusable)."""
        try:
            marker = json.loads((folder / MARKER).read_text())
        except FileNotFoundError:
            return None
        try:
            if marker.get("format") != _MARKER_FORMAT or not marker.get("direct"):
                return None
            return cls.open(
                folder / "onnx" / "model.onnx",
                (folder / TOKENIZER).read_text(),
                int(marker["max_tokens"]),
                int(marker["pad_id"]),
            )
        except Exception as exc:  # a damaged cache: the caller goes the long way
            log.warning("cannot use the saved ONNX encoder in %s (%s)", folder, exc)
            return None

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces each text takes, special tokens included, without truncation."""
        return [len(e.ids) for e in self._counter.encode_batch(texts)]

    def encode(
        self, texts: list[str], batch_size: int = 32, *, progress: bool = False
    ) -> np.ndarray:
        """One L2-normalized float32 row per text.

        Texts are tokenized a window at a time: tokenizing the 470,000 chunks and
        sentences of a 50 MB article at once held GBs of encodings.
        """
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress) as bar:
            for lo in range(0, len(texts), TEXTS_PER_WINDOW):
                window = texts[lo : lo + TEXTS_PER_WINDOW]
                encodings = self._tokenizer.encode_batch(window)
                lengths = [len(e.ids) for e in encodings]
                for rows in _runs(lengths, batch_size, TOKENS_PER_RUN):
                    out[[lo + r for r in rows]] = self._run([encodings[i].ids for i in rows])
                    bar.update(len(rows))
        return out

    def _run(self, token_ids: list[list[int]]) -> np.ndarray:
        longest = max(len(ids) for ids in token_ids)
        ids = np.full((len(token_ids), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, seq in enumerate(token_ids):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def _write_marker(folder: Path, fields: dict[str, Any]) -> None:
    tmp = folder / f".{MARKER}.{os.getpid()}"
    tmp.write_text(json.dumps({"format": _MARKER_FORMAT, **fields}))
    os.replace(tmp, folder / MARKER)  # written last: its presence means all is there


def _runs(lengths: list[int], batch_size: int, budget: int) -> list[list[int]]:
    """Rows grouped for model calls: longest first, at most `batch_size` rows and
    `budget` padded tokens a call (a single longer text still goes alone)."""
    runs: list[list[int]] = []
    current: list[int] = []
    for row in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        # Sorted longest first: the first row of a run sets its padded length.
        if current and (
            len(current) == batch_size or (len(current) + 1) * lengths[current[0]] > budget
        ):
            runs.append(current)
            current = []
        current.append(row)
    if current:
        runs.append(current)
    return runs


def _supported(model: Any) -> bool:
    """Transformer on onnxruntime, mean pooling, normalize, no prompts or lower-casing."""
    modules = [type(m).__name__ for m in model]
    if modules != ["Transformer", "Pooling", "Normalize"]:
        return False
    pooling = model[1].get_config_dict()
    return (
        getattr(model[0].auto_model, "session", None) is not None
        and pooling.get("pooling_mode", pooling.get("pooling_mode_mean_tokens")) in ("mean", True)
        and not getattr(model[0], "do_lower_case", False)
        and not getattr(model, "default_prompt_name", None)
        and getattr(model.tokenizer, "backend_tokenizer", None) is not None
    )
