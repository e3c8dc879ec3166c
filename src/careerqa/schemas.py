"""Typed request and response models of the HTTP API (the `/ask` contract, docs/architecture.md).

These models are the contract: the routes return them, `careerqa ask --json`
prints `AskResponse`, and the OpenAPI description is generated from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from .answering import Answer, Citation, Unsupported
from .errors import QuestionError
from .feedback import CitedPassage, Feedback, Rating
from .ingest import IngestReport
from .query import BLANKS, MAX_QUESTION_CHARS, NOT_TEXT_CLASS, check_text, validate_question

MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 4000
MAX_ANSWER_CHARS = 8000
MAX_COMMENT_CHARS = 2000
MAX_FEEDBACK_TURNS = 10
# A question has a character that is neither NUL nor one trimming removes. Spelled
# out rather than `\S`, whose meaning differs between regex dialects (JSON Schema's
# ECMAScript counts U+0085 as a character, Python's str.strip() as a space).
_BLANK_ESCAPES = "".join(f"\\u{ord(c):04x}" for c in BLANKS)
_NOT_BLANK = (
    f"^[^\\u0000{NOT_TEXT_CLASS}]*[^\\u0000{NOT_TEXT_CLASS}{_BLANK_ESCAPES}]"
    f"[^\\u0000{NOT_TEXT_CLASS}]*$"
)
# Any other text field: no code point that is not a character (`check_text`).
_TEXT: JsonDict = {"pattern": f"^[^{NOT_TEXT_CLASS}]*$"}

_EXAMPLE_CITATION: Any = {
    "n": 1,
    "doc_id": "how-to-become-a-machine-learning-engineer-role-skills-salary",
    "title": "How to Become a Machine Learning Engineer: Role, Skills, Portfolio and Salary",
    "source": "how-to-become-a-machine-learning-engineer-role-skills-salary.txt",
    "heading": "Salary Overview",
    "text": "- Entry-Level Salaries: entry-level machine learning engineers can expect to earn "
    "between $70,000 and $90,000 annually, depending on location and industry.",
    "start": 5306,
    "end": 5455,
    "score": 0.032787,
    "url": "/sources/how-to-become-a-machine-learning-engineer-role-skills-salary"
    "?start=5306&end=5455#passage",
}


class HistoryTurn(BaseModel):
    """An earlier message of the conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS, json_schema_extra=_TEXT)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        try:
            check_text(value, "history content")
        except QuestionError as exc:  # pydantic reports ValueErrors as 422 details
            raise ValueError(str(exc)) from None
        return value


class AskRequest(BaseModel):
    """A question, optionally with the conversation so far."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "How much do entry-level ML engineers earn?", "top_k": 5},
                {
                    "question": "And with experience?",
                    "history": [
                        {"role": "user", "content": "How much do entry-level ML engineers earn?"},
                        {"role": "assistant", "content": "… between $70,000 and $90,000 … [1]"},
                    ],
                },
            ]
        },
    )

    question: str = Field(
        description=f"The question: at most {MAX_QUESTION_CHARS} characters, not all blank.",
        # Documented for clients and fuzzers; checked (with friendlier messages) below.
        json_schema_extra={
            "minLength": 1,
            "maxLength": MAX_QUESTION_CHARS,
            "pattern": _NOT_BLANK,
        },
    )
    top_k: int = Field(5, ge=1, le=20, description="How many passages to retrieve and cite.")
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns, oldest first; used to understand follow-up questions.",
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        try:
            return validate_question(value)
        except QuestionError as exc:  # pydantic reports ValueErrors as 422 details
            raise ValueError(str(exc)) from None


class AskResponse(BaseModel):
    """A short answer whose every sentence cites a passage, or a plain refusal."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "How much do entry-level ML engineers earn?",
                    "answer": "Entry-Level Salaries: entry-level machine learning engineers can "
                    "expect to earn between $70,000 and $90,000 annually, depending on location "
                    "and industry. [1]",
                    "answered": True,
                    "citations": [_EXAMPLE_CITATION],
                    "mode": "extractive",
                    "reason": None,
                    "unsupported": [],
                    "took_ms": 14.2,
                }
            ]
        }
    )

    question: str
    answer: str
    answered: bool = Field(description="False when the articles don't cover the question.")
    citations: list[Citation] = Field(description="Retrieved passages, best first.")
    mode: Literal["extractive", "generative"] = Field(
        "extractive",
        description="`extractive`: sentences copied from the passages; `generative`: written "
        "by the configured model, every sentence checked against the passages it cites.",
    )
    reason: str | None = Field(
        None,
        description="When a model is configured but its answer was not used: why (the "
        "extractive answer is given instead).",
    )
    unsupported: list[Unsupported] = Field(
        default_factory=list,
        description="Sentences of the generated answer dropped because no cited passage "
        "supports them, with why.",
    )
    took_ms: float

    @classmethod
    def from_answer(cls, answer: Answer) -> AskResponse:
        return cls(
            question=answer.question,
            answer=answer.answer,
            answered=answer.answered,
            citations=answer.citations,
            mode="generative" if answer.mode == "generative" else "extractive",
            reason=answer.reason,
            unsupported=answer.unsupported,
            took_ms=answer.took_ms,
        )


class ErrorOut(BaseModel):
    """Why a request was refused."""

    detail: str | list[dict[str, object]]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """The loaded index, or why there is none."""

    ready: bool
    documents: int = 0
    chunks: int = 0
    model: str | None = None
    built_at: str | None = None
    build_id: str | None = Field(default=None, description="The build being served.")
    rebuilding: bool = Field(
        False, description="A rebuild is running; the live build serves meanwhile."
    )
    last_error: str | None = Field(None, description="The last failed rebuild, if any.")


class DocumentIn(BaseModel):
    """A web page to add to the corpus."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="An http or https URL.",
        examples=["https://example.org/guide"],
    )


class DocumentOut(BaseModel):
    """A document saved into the corpus, and the rebuild that indexed it."""

    path: str = Field(description="The Markdown file written, relative to the corpus folder.")
    doc_id: str
    title: str
    replaced: bool = Field(description="An earlier version of the same URL or file was replaced.")
    index: ReindexOut


class ReindexOut(BaseModel):
    """What a rebuild did."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]
    skipped: list[list[str]]
    chunks_embedded: int
    build_id: str | None
    seconds: float

    @classmethod
    def from_report(cls, report: IngestReport) -> ReindexOut:
        return cls(
            added=report.added,
            changed=report.changed,
            removed=report.removed,
            unchanged=report.unchanged,
            skipped=[list(s) for s in report.skipped],
            chunks_embedded=report.chunks_embedded,
            build_id=report.build_id,
            seconds=round(report.seconds, 3),
        )


def _text(value: str, what: str) -> str:
    try:
        check_text(value, what)
    except QuestionError as exc:  # pydantic reports ValueErrors as 422 details
        raise ValueError(str(exc)) from None
    return value


def _whole(value: object) -> object:
    """JSON Schema counts 1.0 as an integer, so this does too (strings stay refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class FeedbackCitation(BaseModel):
    """A citation of the answer, as `/ask` returned it (its other fields are ignored)."""

    model_config = ConfigDict(strict=True)

    n: Annotated[int, BeforeValidator(_whole)] = Field(ge=1, le=100)
    doc_id: str = Field(max_length=300, json_schema_extra=_TEXT)
    title: str = Field(max_length=500, json_schema_extra=_TEXT)
    source: str = Field(max_length=500, json_schema_extra=_TEXT)
    heading: str | None = Field(None, max_length=500, json_schema_extra=_TEXT)
    text: str = Field(max_length=MAX_TURN_CHARS, json_schema_extra=_TEXT)
    url: str = Field(max_length=1000, json_schema_extra=_TEXT)

    @field_validator("doc_id", "title", "source", "heading", "text", "url")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return value if value is None else _text(value, "citation")


class _FeedbackBase(BaseModel):
    """What every mark carries: the answer it is about."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(
        description="The question answered.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": _NOT_BLANK},
    )
    answer: str = Field(
        max_length=MAX_ANSWER_CHARS, description="The answer given.", json_schema_extra=_TEXT
    )
    answered: bool = Field(description="The `answered` of that answer.")
    citations: list[FeedbackCitation] = Field(
        default_factory=list, max_length=40, description="The answer's citations."
    )
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_FEEDBACK_TURNS,
        description="The turns before the question, oldest first.",
    )
    comment: str = Field(
        "", max_length=MAX_COMMENT_CHARS, description="Optional words.", json_schema_extra=_TEXT
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        try:
            return validate_question(value)
        except QuestionError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("answer", "comment")
    @classmethod
    def _plain(cls, value: str) -> str:
        return _text(value, "text")

    def _feedback(
        self, rating: Rating, marked: FeedbackCitation | None, build: str | None
    ) -> Feedback:
        citations = list(self.citations)
        if marked is not None:  # the passage marked is the one kept under its number
            citations = [c for c in citations if c.n != marked.n] + [marked]
        return Feedback(
            rating=rating,
            question=self.question,
            answer=self.answer,
            answered=self.answered,
            citations=[CitedPassage(**c.model_dump()) for c in citations],
            history=[t.model_dump() for t in self.history],
            citation=marked.n if marked else None,
            comment=self.comment.strip(),
            build_id=build,
        )


class RatingIn(_FeedbackBase):
    """👍 or 👎 on an answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rating": "down",
                    "question": "Is a PhD worth it for an ML engineer job?",
                    "answer": "Salaries can vary … [1]",
                    "answered": True,
                    "citations": [_EXAMPLE_CITATION],
                    "comment": "It answers about salaries, not about a PhD.",
                }
            ]
        }
    )

    rating: Literal["up", "down"] = Field(description="`up` 👍 or `down` 👎.")

    def to_feedback(self, build_id: str | None) -> Feedback:
        return self._feedback(self.rating, None, build_id)


class UnsupportedIn(_FeedbackBase):
    """A citation marked: its passage doesn't support the answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rating": "unsupported",
                    "question": "How much do entry-level ML engineers earn?",
                    "answer": "… between $70,000 and $90,000 … [1]",
                    "answered": True,
                    "citations": [_EXAMPLE_CITATION],
                    "citation": _EXAMPLE_CITATION,
                    "comment": "This passage is about senior salaries.",
                }
            ]
        }
    )

    rating: Literal["unsupported"]
    citation: FeedbackCitation = Field(description="The citation marked.")

    def to_feedback(self, build_id: str | None) -> Feedback:
        return self._feedback(self.rating, self.citation, build_id)


FeedbackIn = Annotated[RatingIn | UnsupportedIn, Field(discriminator="rating")]


class FeedbackOut(BaseModel):
    """The stored mark."""

    id: int
    stored: Literal[True] = True
