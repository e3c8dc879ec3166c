"""careerqa as an OpenAI-compatible model: `GET /v1/models`, `POST /v1/chat/completions`.

Any chat client that speaks the OpenAI API (the `openai` SDK, Open WebUI,
LibreChat, LangChain's ChatOpenAI) can use careerqa as a model. The last user
message is the question, earlier user and assistant messages are the history.
The reply's text carries the `[n]` markers and ends with a readable list of the
sources; the same sources are in the extra field `citations` (the `/ask`
citation objects), with `careerqa` holding `mode`, `answered`, `reason` and
`unsupported`. Streamed replies send the checked answer, never an unchecked draft.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from .answering import Answer, cited_numbers
from .conversation import Turn
from .errors import QuestionError
from .generation import Source
from .routes import TOO_LARGE, Asking, Live
from .schemas import MAX_HISTORY_TURNS, ErrorOut

MODEL_ID = "careerqa"
_SOURCES = "\n\nSources:\n"

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], dependencies=Asking)


class TextPart(BaseModel):
    type: Literal["text"]
    text: str = Field(max_length=8000)


class ChatMessage(BaseModel):
    """One message; content as a string or as text parts."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = Field(None)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """The parts of an OpenAI chat completion request careerqa uses (others are ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(MODEL_ID, description=f"Any name; careerqa answers as `{MODEL_ID}`.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=2 * MAX_HISTORY_TURNS + 1)
    stream: bool = Field(False, strict=True)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "careerqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/models", summary="The one model careerqa serves")
async def models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=0)])


@router.post(
    "/chat/completions",
    responses={
        200: {
            "description": "A chat.completion object (or, with `stream`, server-sent "
            "chat.completion.chunk objects ending with `data: [DONE]`), plus `citations` "
            "(the /ask citation objects) and `careerqa` ({mode, answered, reason, unsupported}).",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        400: {"model": ErrorOut, "description": "The body is not UTF-8 JSON."},
        401: {"model": ErrorOut, "description": "CAREERQA_API_KEY is set and not given."},
        **TOO_LARGE,
        422: {"model": ErrorOut, "description": "The body is not a chat request."},
        503: {"model": ErrorOut, "description": "No index is loaded."},
    },
    summary="Answer the last user message from the articles, with citations",
)
async def chat_completions(body: ChatRequest, live: Live) -> Any:
    # A chat model replies to whatever it is sent: an unusable question gets a reply
    # saying why (answered false), as a chat client expects, not an HTTP error.
    question, history = _conversation(body.messages)
    try:
        if question is None:
            raise QuestionError("the last message must be the user's question")
        answer = await live.ask(question, None, history)
    except QuestionError as exc:
        answer = Answer(question or "", f"I can't answer that: {exc}.", False, [], 0.0)
    reply_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        return StreamingResponse(
            _chunks(reply_id, answer),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _content(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_extra(answer),
    }


def _conversation(messages: list[ChatMessage]) -> tuple[str | None, list[Turn]]:
    """The last message when the user's (else None), and the user/assistant turns before it."""
    history = []
    for message in messages[:-1]:
        if message.role in ("user", "assistant"):
            # Our own replies come back with their source list; the answer is before it.
            text = message.text().split(_SOURCES, 1)[0]
            history.append(Turn(message.role, text[:4000]))
    last = messages[-1]
    return (last.text() if last.role == "user" else None), history[-MAX_HISTORY_TURNS:]


def _content(answer: Answer) -> str:
    """The answer, then its cited sources as a readable list."""
    if not answer.citations:
        return answer.answer
    numbers = cited_numbers(answer.answer)
    lines = [
        f"[{c.n}] {Source(c.n, c.title, c.heading, c.text).header}"
        + (f", p. {c.page}" if c.page else "")
        + f" ({c.url})"
        for c in answer.citations
        if c.n in numbers
    ]
    return answer.answer + (_SOURCES + "\n".join(lines) if lines else "")


def _extra(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [c.model_dump() for c in answer.citations],
        "careerqa": {
            "mode": answer.mode,
            "answered": answer.answered,
            "reason": answer.reason,
            "unsupported": [u.model_dump() for u in answer.unsupported],
        },
    }


async def _chunks(reply_id: str, answer: Answer) -> AsyncIterator[str]:
    """The checked answer as chat.completion.chunk events, a few words each."""
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    words = _content(answer).split(" ")
    for start in range(0, len(words), 8):
        piece = " ".join(words[start : start + 8])
        yield chunk({"content": piece if start == 0 else " " + piece})
    yield chunk({}, "stop", **_extra(answer))
    yield "data: [DONE]\n\n"
