"""Preparing a local model for onnxruntime, once: export it, check the direct encoder.

The export and the check import torch and sentence-transformers (RSS 890 MB
here), so the embedder runs them in a child process the first time a model is
used on the ONNX backend:

    python -m careerqa.onnx_export MODEL_FOLDER CACHE_DIR [--device cpu]

The outcome is kept in CACHE_DIR/onnx/<key>/: the exported model, and a marker
saying whether the direct encoder gave sentence-transformers' vectors (with the
tokenizer it was checked with) or not. Every process then loads from there
without importing torch (`onnx_encoder.DirectOnnxEncoder.load`).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .onnx_encoder import DirectOnnxEncoder, session_options

log = logging.getLogger(__name__)

# The child gives up after this long; the embedder then tries in its own process.
CHILD_TIMEOUT = 900


def export_dir(model_folder: Path, cache_dir: Path) -> Path:
    """Where a model's ONNX export is kept: one folder per model and exporter version."""
    exporter = importlib.metadata.version("sentence-transformers")
    key = hashlib.sha256(f"{model_folder.resolve()}|{exporter}".encode()).hexdigest()[:16]
    return cache_dir / "onnx" / key


def sentence_transformer(path: str, device: str, backend: str) -> Any:
    """A SentenceTransformer on torch, or on onnxruntime with careerqa's session options."""
    from sentence_transformers import SentenceTransformer

    if backend == "onnx":
        return SentenceTransformer(
            path,
            device=device,
            backend="onnx",
            model_kwargs={"session_options": session_options()},
        )
    return SentenceTransformer(path, device=device)


def prepare(
    model_folder: Path, cache_dir: Path, device: str = "cpu"
) -> tuple[Any, DirectOnnxEncoder | None]:
    """Export the model to ONNX if not done; check its direct encoder and record the outcome.

    Returns (None, encoder) when the check passed, else (the SentenceTransformer, None).
    """
    exported = export_dir(model_folder, cache_dir)
    if not (exported / "onnx" / "model.onnx").is_file():
        _export(model_folder, exported, device)
    model = sentence_transformer(str(exported), device, "onnx")
    direct = DirectOnnxEncoder.attach(model)
    if direct is None:
        DirectOnnxEncoder.decline(exported)  # later starts skip the check
        return model, None
    direct.save(exported)
    # The encoder keeps the session; the rest of the checking model can go.
    return None, direct


def prepare_in_child(model_folder: Path, cache_dir: Path, device: str = "cpu") -> None:
    """Run `prepare` in a child process; a failure is logged, and the caller tries itself."""
    log.info("preparing %s for onnxruntime (once; a separate process)", model_folder)
    args = [sys.executable, "-m", __name__, str(model_folder), str(cache_dir), "--device", device]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        log.warning(
            "preparing the ONNX model took over %d s; trying in this process", CHILD_TIMEOUT
        )
        return
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        log.warning("preparing the ONNX model failed (%s); trying in this process", tail[0])


def _export(model_folder: Path, exported: Path, device: str) -> None:
    exported.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=exported.parent))
    try:
        shutil.copytree(model_folder, tmp, dirs_exist_ok=True)
        log.info("exporting %s to ONNX (once) in %s", model_folder, exported)
        sentence_transformer(str(tmp), device, "onnx").save_pretrained(str(tmp))
        if exported.exists():
            shutil.rmtree(tmp)  # another process exported it meanwhile
        else:
            tmp.rename(exported)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m careerqa.onnx_export",
        description="Export a local sentence-transformers model to ONNX and check careerqa's "
        "direct encoder against it (done once per model; the result is cached).",
    )
    parser.add_argument("model_folder", type=Path, help="folder of the sentence-transformers model")
    parser.add_argument("cache_dir", type=Path, help="careerqa's cache folder (CAREERQA_CACHE_DIR)")
    parser.add_argument("--device", default="cpu", help="torch device for the export")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _, direct = prepare(args.model_folder, args.cache_dir, args.device)
    print("direct encoder" if direct else "sentence-transformers encode()")
    return 0


if __name__ == "__main__":
    sys.exit(main())
