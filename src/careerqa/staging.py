"""Documents embedded by an ingest that has not finished, kept on disk: a killed ingest resumes.

Ingest embeds new and changed documents a batch at a time and writes each one here
(`index/staging/<settings>/<content hash>-<name>.npz`: the cleaned document, its chunks,
their vectors) as soon as it is embedded. The next run, killed or not, takes a
document whose content and settings are unchanged from here instead of embedding it
again. A successful build empties the folder; entries of other settings are never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .store import (
    StoredChunk,
    StoredDocument,
    chunk_from_json,
    chunk_json,
    document_from_json,
    document_json,
)

log = logging.getLogger(__name__)


@dataclass
class Embedded:
    """One document cleaned, chunked and embedded (rows relative to the document)."""

    document: StoredDocument
    chunks: list[StoredChunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


class Staging:
    """The staging folder of one compatibility key (model, chunking, pipeline)."""

    def __init__(self, index_dir: Path, key: dict[str, object]):
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        self.root = index_dir / "staging"
        self.folder = self.root / digest

    def _path(self, doc_id: str, content_hash: str) -> Path:
        # By document and content: two files with the same text are two documents.
        name = hashlib.sha256(doc_id.encode()).hexdigest()[:12]
        return self.folder / f"{content_hash}-{name}.npz"

    def get(self, doc_id: str, content_hash: str) -> Embedded | None:
        """The staged document with this content, or None (absent or unreadable)."""
        path = self._path(doc_id, content_hash)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(bytes(archive["meta"]).decode())
                chunk_vectors, sentence_vectors = archive["chunks"], archive["sentences"]
            document = document_from_json(meta["document"])
            chunks = [chunk_from_json(row) for row in meta["chunks"]]
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("staged %s unreadable, embedding it again: %s", path.name, exc)
            return None
        if document.doc_id != doc_id:  # pragma: no cover - a sha256 prefix collision
            return None
        return Embedded(document, chunks, chunk_vectors, sentence_vectors)

    def put(self, embedded: Embedded) -> None:
        """Keep one embedded document; written aside, then renamed (a kill leaves no half)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "document": document_json(embedded.document),
            "chunks": [chunk_json(c) for c in embedded.chunks],
        }
        path = self._path(embedded.document.doc_id, embedded.document.content_hash)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
                chunks=embedded.chunk_vectors,
                sentences=embedded.sentence_vectors,
            )
        os.replace(tmp, path)

    def clear(self) -> None:
        """Forget everything staged (the build that used it is live)."""
        shutil.rmtree(self.root, ignore_errors=True)
