"""The assistant: answers questions from one loaded index with the embedder it was given.

`ask` is the one question protocol — plan, embed, retrieve, compose — used by
the web app (with the batching embedder, awaited) and the CLI (through
`ask_sync`, with the model itself).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from .answering import Answer, compose, make_citations
from .conversation import Turn
from .embedding import Embedder, embed_async
from .loaded import LoadedIndex
from .query import QueryPlan
from .retrieval import search
from .settings import Settings
from .store import IndexData


@dataclass
class Assistant:
    """Answers questions from one index build; a new build gets a new Assistant."""

    settings: Settings
    embedder: Embedder
    index: LoadedIndex

    @classmethod
    def from_data(cls, settings: Settings, embedder: Embedder, data: IndexData) -> Assistant:
        """An assistant over an index build already in memory."""
        return cls(settings, embedder, LoadedIndex(data))

    @property
    def data(self) -> IndexData:
        return self.index.data

    @property
    def build_id(self) -> str:
        return self.index.build_id

    async def ask(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> Answer:
        """Retrieve passages for a question and compose a cited answer.

        QuestionError when the question is empty, too long or otherwise unusable.
        """
        started = time.perf_counter()
        plan = QueryPlan.make(question, history or [], self.index.lexical, self.index.vocabulary)
        query = plan.query(await embed_async(self.embedder, plan.texts))
        settings = self.settings
        hits = search(
            self.index,
            query.vector,
            query.search_text,
            top_k or settings.top_k,
            candidates=settings.candidates,
            lexical_weight=settings.lexical_weight,
        )
        composed = compose(
            query,
            hits,
            self.index,
            threshold=settings.abstain_threshold,
            max_sentences=settings.max_answer_sentences,
        )
        return Answer(
            question=plan.question,
            answer=composed.text,
            answered=composed.answered,
            citations=make_citations(composed.cited, self.index) if composed.answered else [],
            evidence=round(composed.evidence, 4),
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def ask_sync(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> Answer:
        """`ask` for callers without an event loop (the CLI, evaluation, tests)."""
        return asyncio.run(self.ask(question, top_k, history))
