"""The manifest beside each index build: what it was made from, and whether it fits.

The compatibility key names everything that decides what the stored chunks and
vectors are (model, chunking settings, the version of the cleaning and chunking
rules). A build whose key differs from the current settings' is never served:
loading it with `expect=` raises IndexMismatchError, and ingest rebuilds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import IndexCorruptError, IndexMismatchError
from .settings import Settings

# 2: the sentence index is stored too (an IVF one is trained once, at ingest, not per load).
FORMAT_VERSION = 2
# Bump when cleaning or chunking rules change: stored chunks of unchanged files are then stale.
PIPELINE_VERSION = 6  # 3: page marks of converted PDFs; 4: notes to readers retold to the reader;
# 5: a second writer's verb inside a note ("…, and recommend documenting…") dropped;
# 6: "Last Updated on <date>" kept as a sentence


@dataclass
class Manifest:
    """What a build was made from; checked on load and by incremental rebuilds."""

    model: str
    dimension: int
    settings_key: dict[str, object]
    documents: dict[str, str]  # doc_id -> content hash
    package_version: str
    built_at: str = ""
    build_id: str = ""
    format_version: int = FORMAT_VERSION
    counts: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    # How the build's questions are embedded: "adapted" (its own encoder, adapting.py),
    # "shared" (the model as it is), "" (a build made before adaptation existed).
    questions: str = ""


def compatibility_key(settings: Settings) -> dict[str, object]:
    """The settings that decide what the stored chunks and vectors are."""
    return {
        "model": settings.model,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "pipeline": PIPELINE_VERSION,
    }


def read_manifest(build: Path) -> Manifest:
    """The manifest of a build folder; IndexCorruptError when it is missing or unreadable."""
    try:
        raw = json.loads((build / "manifest.json").read_text())
        manifest = Manifest(**raw)
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{build} has no manifest.json") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(f"{build}/manifest.json is unreadable ({exc})") from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index format {manifest.format_version} is not {FORMAT_VERSION} — "
            "run `careerqa ingest --full`"
        )
    return manifest


def check_compatible(manifest: Manifest, expect: dict[str, object], where: Path) -> None:
    """IndexMismatchError when a build was made with other settings than `expect`."""
    if manifest.settings_key != expect:
        raise IndexMismatchError(
            f"the index in {where} was built with other settings "
            f"({manifest.settings_key}) — run `careerqa ingest`"
        )
