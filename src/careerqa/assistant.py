"""The assistant: one loaded index, its retriever and the embedder, answering questions."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from . import store
from .answering import Answer, compose, make_citations
from .conversation import Turn, context_question, previous_answer
from .embedding import Embedder
from .errors import CareerQAError, IndexMismatchError, QuestionError
from .ingest import settings_key
from .retrieval import Retriever
from .settings import Settings
from .store import IndexData

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
# What str.strip() trims (str.isspace), spelled out so the API schema can say the same.
BLANKS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# How much the earlier question counts in a follow-up's query vector.
FOLLOW_UP_CONTEXT_WEIGHT = 0.7


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@dataclass
class Assistant:
    """Answers questions from one index build; swap in a new one by building another."""

    settings: Settings
    embedder: Embedder
    data: IndexData
    retriever: Retriever

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder) -> Assistant:
        """Load the live index and check it was built the way the settings say."""
        data = store.load(settings.index_dir)
        if data.manifest.settings_key != settings_key(settings):
            raise IndexMismatchError(
                f"the index in {settings.index_dir} was built with other settings "
                f"({data.manifest.settings_key}) — run `careerqa ingest`"
            )
        return cls.from_data(settings, embedder, data)

    @classmethod
    def from_data(cls, settings: Settings, embedder: Embedder, data: IndexData) -> Assistant:
        retriever = Retriever(data, candidates=settings.candidates, rrf_k=settings.rrf_k)
        return cls(settings, embedder, data, retriever)

    @property
    def build_id(self) -> str:
        return self.data.manifest.build_id

    def ask(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> Answer:
        """Retrieve passages for a question and compose a cited answer."""
        plan = self.plan(question, top_k, history)
        return self.answer(plan, self.embedder.embed(plan.texts))

    def plan(
        self, question: str, top_k: int | None = None, history: list[Turn] | None = None
    ) -> Plan:
        """What to embed for a question; the web app embeds it with other requests' texts."""
        started = time.perf_counter()
        question = validate_question(question)
        history = history or []
        context = context_question(question, history)
        # One batch: the question, the question without words the corpus never uses,
        # and the earlier question a follow-up refers to.
        reduced = self.retriever.lexical.without_unknown_words(question)
        texts = [question]
        if reduced is not None:
            texts.append(reduced)
        if context:
            texts.append(context)
        return Plan(
            question, top_k or self.settings.top_k, history, context, reduced, texts, started
        )

    def answer(self, plan: Plan, vectors: np.ndarray) -> Answer:
        """Retrieve and compose, given the vectors of `plan.texts`."""
        vector = vectors[0]
        reduced_vector = vectors[1] if plan.reduced else None
        query_text = plan.question
        if plan.context:
            # The follow-up leads; the earlier question says what it is about.
            context_vector = FOLLOW_UP_CONTEXT_WEIGHT * vectors[-1]
            vector = _unit(vector + context_vector)
            if reduced_vector is not None:
                reduced_vector = _unit(reduced_vector + context_vector)
            query_text = f"{plan.context} {plan.question}"
        kept_meaning = 1.0
        if plan.reduced is not None:
            kept_meaning = float(reduced_vector @ vector) if reduced_vector is not None else 0.0
        hits = self.retriever.search(vector, query_text, plan.top_k)
        text, answered, evidence = compose(
            plan.question,
            vector,
            hits,
            self.retriever,
            threshold=self.settings.abstain_threshold,
            max_sentences=self.settings.max_answer_sentences,
            kept_meaning=kept_meaning,
            already_said=previous_answer(plan.history) if plan.context else "",
        )
        return Answer(
            question=plan.question,
            answer=text,
            answered=answered,
            citations=make_citations(hits, self.data) if answered else [],  # cites nothing
            evidence=round(evidence, 4),
            took_ms=round((time.perf_counter() - plan.started) * 1000, 2),
        )


@dataclass(frozen=True)
class Plan:
    """A validated question and the texts to embed for it."""

    question: str
    top_k: int
    history: list[Turn]
    context: str | None  # the earlier question a follow-up refers to
    reduced: str | None  # the question without words the corpus never uses
    texts: list[str]
    started: float


def validate_question(question: str) -> str:
    """The trimmed question, or QuestionError saying what is wrong with it."""
    if not isinstance(question, str):
        raise QuestionError("question must be a string")
    # The limit counts what was sent, as the API schema's maxLength does.
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    trimmed = question.strip(BLANKS)
    if not trimmed:
        raise QuestionError("question is empty")
    if "\x00" in trimmed:
        raise QuestionError("question contains a NUL character")
    return trimmed


def open_assistant(settings: Settings, embedder: Embedder, *, refresh: bool = True) -> Assistant:
    """Load the index, building or refreshing it from the corpus first where needed.

    With refresh, an incremental ingest runs first (it embeds nothing when the corpus
    is unchanged); if that fails but an index exists, the existing index is used.
    """
    from .ingest import ingest

    if refresh:
        try:
            report = ingest(settings, embedder)
            if report.did_change:
                log.info("index refreshed: %s", report.summary())
            if report.data is not None:
                return Assistant.from_data(settings, embedder, report.data)
        except CareerQAError as exc:
            if store.current_build_id(settings.index_dir) is None:
                raise
            log.warning("could not refresh the index, using the existing one: %s", exc)
    return Assistant.load(settings, embedder)
