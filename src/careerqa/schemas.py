"""Typed request and response models of the HTTP API (the `/ask` contract, docs/architecture.md).

These models are the contract: the routes return them, `careerqa ask --json`
prints `AskResponse`, and the OpenAPI description is generated from them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .answering import Answer, Citation
from .errors import QuestionError
from .ingest import IngestReport
from .query import BLANKS, MAX_QUESTION_CHARS, check_text, validate_question

MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 4000
# A question has a character that is neither NUL nor one trimming removes. Spelled
# out rather than `\S`, whose meaning differs between regex dialects (JSON Schema's
# ECMAScript counts U+0085 as a character, Python's str.strip() as a space).
_BLANK_ESCAPES = "".join(f"\\u{ord(c):04x}" for c in BLANKS)
_NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_BLANK_ESCAPES}][^\\u0000]*$"

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
    content: str = Field(max_length=MAX_TURN_CHARS)

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
                    "took_ms": 14.2,
                }
            ]
        }
    )

    question: str
    answer: str
    answered: bool = Field(description="False when the articles don't cover the question.")
    citations: list[Citation] = Field(description="Retrieved passages, best first.")
    took_ms: float

    @classmethod
    def from_answer(cls, answer: Answer) -> AskResponse:
        return cls(
            question=answer.question,
            answer=answer.answer,
            answered=answer.answered,
            citations=answer.citations,
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
