"""The search store interface: where a build's chunks and sentences are searched.

A `Searcher` finds, for one question, the candidate chunks of a build: by dense
similarity over chunk vectors and over sentence vectors, and by BM25 over the chunk
texts. Retrieval (retrieval.py) fuses the candidates into one ranking the same way
for every store, so both stores give the same passages for the same build.

Two stores implement it: the embedded one (FAISS and bm25s in this process, loaded.py)
and Milvus (milvus.py), where the searches run in the engine and this process holds
no search index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """What a store found for a question: rows of the build's chunk and sentence tables."""

    chunk_rows: list[int]  # nearest chunk vectors, best first
    sentence_rows: list[int]  # nearest sentence vectors, best first
    lexical: dict[int, float] = field(default_factory=dict)  # chunk row → BM25, best rows only
    # Set when the store fused the searches itself (Milvus' RRF): chunk row → fused score.
    fused: dict[int, float] | None = None


class Searcher(Protocol):
    """Candidate search over one build; shared by all requests, never mutated."""

    def candidates(self, vector: np.ndarray, terms: list[str], depth: int) -> Candidates:
        """The `depth` nearest chunks, the 2·`depth` nearest sentences, the `depth` best BM25."""
        ...
