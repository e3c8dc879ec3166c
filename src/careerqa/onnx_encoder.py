"""Running an exported ONNX sentence model straight on onnxruntime, without torch.

`SentenceTransformer.encode` on the ONNX backend still goes through torch for
the tensors, the pooling and the normalizing; that costs about 1.4 ms of a 3.5
ms question on these machines. For the common model shape — a transformer, mean
pooling, normalize — this module does the same arithmetic with the tokenizer,
the onnxruntime session and numpy, and batches long lists by token length so
short sentences are not padded to long chunks. It is only used after giving
the same vectors as `encode` on probe texts (see `DirectOnnxEncoder.attach`).
"""

from __future__ import annotations

import logging
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
    """Transformer → mean pooling → unit length, on the model's onnxruntime session."""

    def __init__(self, model: Any):
        from tokenizers import Tokenizer

        self.session = model[0].auto_model.session
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(self.session.get_outputs()[0].shape[-1])
        hf_tokenizer = model.tokenizer
        # A copy: the shared tokenizer carries truncation and padding state per call.
        self.tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(model.max_seq_length))
        self.pad_id = int(hf_tokenizer.pad_token_id or 0)

    @classmethod
    def attach(cls, model: Any) -> DirectOnnxEncoder | None:
        """An encoder for `model` if it has the supported shape and gives its vectors."""
        if not _supported(model):
            return None
        encoder = cls(model)
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

    def encode(
        self, texts: list[str], batch_size: int = 32, *, progress: bool = False
    ) -> np.ndarray:
        """One L2-normalized float32 row per text."""
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
            rows = order[start : start + batch_size]
            out[rows] = self._run([encodings[i].ids for i in rows])
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
