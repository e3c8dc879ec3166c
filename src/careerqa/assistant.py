"""The assistant: answers questions from one loaded index with the embedder it was given.

`stream` is the one question protocol — plan, embed, retrieve, compose; then, when
a model is configured and the articles cover the question, generate and check —
as events (`Started`, `Draft`…, `Finished`). `ask` returns the finished answer; the
web app awaits it with the batching embedder, the CLI through `ask_sync`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from .adapting import question_embedder
from .answering import Answer, Citation, Unsupported, compose, make_citations, stating_figure
from .checking import Passage, claims, judge, render
from .conversation import Turn
from .embedding import Embedder, embed_async
from .errors import GenerationError
from .generation import Cut, Generator, Source, messages
from .lexical import terms
from .loaded import EmbeddedSearcher, LoadedIndex
from .query import QueryPlan
from .retrieval import Hit, search
from .settings import Settings
from .shapes import figures
from .store import IndexData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    """First event: the passages cited (final for extractive answers) and the mode tried."""

    citations: list[Citation]
    mode: str


@dataclass(frozen=True)
class Draft:
    """A piece of the answer's text as it is produced (unchecked when generated)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """Last event: the answer, checked; it replaces the draft."""

    answer: Answer


Event = Started | Draft | Finished


@dataclass
class Assistant:
    """Answers questions from one index build; a new build gets a new Assistant."""

    settings: Settings
    embedder: Embedder  # the shared model: claims of generated answers are checked with it
    index: LoadedIndex
    generator: Generator | None = None
    questions: Embedder | None = None  # the build's adapted question encoder, if it has one

    @classmethod
    def from_data(cls, settings: Settings, embedder: Embedder, data: IndexData) -> Assistant:
        """An assistant over an index build already in memory."""
        searcher = None
        if settings.store == "milvus":
            from .milvus import MilvusSearcher

            searcher = MilvusSearcher(settings, data.manifest.build_id)
        index = LoadedIndex(data, searcher)
        # Questions go through the build's adapted encoder when it has one.
        questions = question_embedder(settings.index_dir / data.manifest.build_id, embedder)
        return cls(settings, embedder, index, Generator.from_settings(settings), questions)

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
        async for event in self.stream(question, top_k, history):
            if isinstance(event, Finished):
                return event.answer
        raise AssertionError("stream ended without an answer")  # pragma: no cover

    async def stream(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> AsyncIterator[Event]:
        """The question protocol, as events: Started, Draft pieces, then Finished."""
        started = time.perf_counter()
        history = history or []
        hits, extractive = await self.retrieve(question, top_k, history)
        if self.generator is None or not extractive.answered:
            # Declining is decided before any model is asked: it never answers what
            # the articles don't cover.
            yield Started(extractive.citations, "extractive")
            yield Draft(extractive.answer)
            yield Finished(_timed(extractive, started))
            return
        citations = make_citations(hits, self.index)
        yield Started(citations, "generative")
        draft: list[str] = []
        cut = False
        try:
            chat = messages(extractive.question, [_source(c) for c in citations], history)
            async for piece in self.generator.stream(chat):
                if isinstance(piece, Cut):
                    cut = True
                    continue
                draft.append(piece)
                yield Draft(piece)
        except GenerationError as exc:
            log.warning("generated answer not used: %s", exc)
            yield Finished(_timed(replace(extractive, reason=str(exc)), started))
            return
        checked = await self._check("".join(draft), hits, citations, cut)
        if not checked.answer:
            reason = "no sentence of the generated answer is supported by its passages"
            fallback = replace(extractive, reason=reason, unsupported=checked.unsupported)
            yield Finished(_timed(fallback, started))
            return
        answer = replace(
            extractive,
            answer=checked.answer,
            mode="generative",
            citations=citations,
            unsupported=checked.unsupported,
        )
        yield Finished(_timed(answer, started))

    async def retrieve(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> tuple[list[Hit], Answer]:
        """The retrieved passages, and the extractive answer (or refusal) from them."""
        plan = QueryPlan.make(question, history or [], self.index.lexical, self.index.vocabulary)
        query = plan.query(await embed_async(self.questions or self.embedder, plan.texts))
        settings = self.settings
        nearest: list[int] = []
        find = functools.partial(
            search,
            self.index,
            query.vector,
            query.search_text,
            top_k or settings.top_k,
            candidates=settings.candidates,
            lexical_weight=settings.lexical_weight,
            sentences=nearest,
        )
        # In-process search takes well under a millisecond; a remote store's round trips
        # wait in a thread, so the event loop serves other requests meanwhile.
        local = isinstance(self.index.searcher, EmbeddedSearcher)
        hits = find() if local else await asyncio.to_thread(find)
        composed = compose(
            query,
            hits,
            self.index,
            threshold=settings.abstain_threshold,
            max_sentences=settings.max_answer_sentences,
            extra=stating_figure(query, hits, nearest, self.index),
        )
        answer = Answer(
            question=plan.question,
            answer=composed.text,
            answered=composed.answered,
            citations=make_citations(composed.cited, self.index) if composed.answered else [],
            evidence=round(composed.evidence, 4),
        )
        return hits, answer

    async def _check(
        self, text: str, hits: list[Hit], citations: list[Citation], cut: bool = False
    ) -> _Checked:
        """The draft's supported claims, and the dropped ones with why."""
        found = claims(text, {c.n for c in citations}, cut=cut)
        if not found:
            return _Checked("", [])
        vectors = await embed_async(self.embedder, [c.text for c in found])
        passages = self.passages(hits, citations)
        verdicts = [judge(c, v, passages) for c, v in zip(found, vectors, strict=True)]
        dropped = [
            Unsupported(text=v.claim.text, reason=v.reason)
            for v in verdicts
            if not v.supported_by and v.reason != "not a claim"
        ]
        return _Checked(render(verdicts), dropped)

    def passages(self, hits: list[Hit], citations: list[Citation]) -> list[Passage]:
        """The passages a model is given, as the checker reads them."""
        return [self._passage(c, hit) for c, hit in zip(citations, hits, strict=True)]

    def _passage(self, citation: Citation, hit: Hit) -> Passage:
        lo, hi = hit.chunk.sentence_rows
        table = self.index.sentences
        chunk = hit.chunk.chunk
        words = set(terms(chunk.text)) | set(terms(chunk.heading or ""))
        source = _source(citation)
        return Passage(
            n=citation.n,
            text=chunk.text,
            header=source.header,
            figures=frozenset(figures(chunk.text)),
            vector=self.index.data.vectors[hit.row],
            sentence_vectors=table.vectors[lo:hi],
            words=frozenset(words),
        )

    def ask_sync(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> Answer:
        """`ask` for callers without an event loop (the CLI, evaluation, tests)."""
        return asyncio.run(self.ask(question, top_k, history))


@dataclass(frozen=True)
class _Checked:
    answer: str
    unsupported: list[Unsupported]


def _source(citation: Citation) -> Source:
    return Source(citation.n, citation.title, citation.heading, citation.text)


def _timed(answer: Answer, started: float) -> Answer:
    return replace(answer, took_ms=round((time.perf_counter() - started) * 1000, 2))
