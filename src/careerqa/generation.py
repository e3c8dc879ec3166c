"""Generated answers: the retrieved passages, numbered, sent to an OpenAI-compatible model.

The model sees only those passages and the conversation so far, and is told to
cite them as `[n]` and to say when they don't answer. Its text is a draft:
`checking.py` decides what of it is kept. Any failure — unreachable, slow, an
error status, an empty answer — is a `GenerationError` whose message is the
reason given with the extractive answer used instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from .conversation import Turn
from .errors import GenerationError
from .settings import Settings

log = logging.getLogger(__name__)

SYSTEM = (
    "You answer questions about careers using only the numbered passages the user gives "
    "you. After every sentence, write the number of the passage it comes from in square "
    "brackets, like [1]. Use no other knowledge. If the passages do not answer the "
    "question, say so in one sentence. Answer in at most four short sentences."
)
HISTORY_TURNS = 6
MAX_TOKENS = 400


@dataclass(frozen=True)
class Source:
    """A passage as the model sees it."""

    n: int
    title: str
    heading: str | None
    text: str

    @property
    def header(self) -> str:
        return self.title + (f" — {self.heading}" if self.heading else "")


def messages(question: str, sources: Sequence[Source], history: list[Turn]) -> list[dict[str, str]]:
    """The chat messages: instructions, the recent conversation, the passages and question."""
    out = [{"role": "system", "content": SYSTEM}]
    for turn in history[-HISTORY_TURNS:]:
        out.append({"role": turn.role, "content": turn.content})
    numbered = "\n\n".join(f"[{s.n}] {s.header}\n{s.text}" for s in sources)
    out.append({"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"})
    return out


class Cut:
    """Yielded last when the model stopped at the token limit: its last words are cut."""


CUT = Cut()


@dataclass(frozen=True)
class Generator:
    """An OpenAI-compatible chat model behind `CAREERQA_LLM_URL`."""

    url: str
    model: str
    api_key: str | None
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Generator | None:
        """The configured model, or None for extractive answers only."""
        if not settings.llm_url:
            return None
        return cls(settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout)

    async def stream(self, chat: list[dict[str, str]]) -> AsyncIterator[str | Cut]:
        """The answer's text as the model produces it, then CUT if it hit the token limit.

        GenerationError on any failure.
        """
        import openai

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        produced = False
        # A client per answer: the CLI runs each question in its own event loop, and a
        # client's connection pool belongs to the loop it was first used in.
        client = openai.AsyncOpenAI(
            base_url=self.url,
            api_key=self.api_key or "not-needed",
            timeout=self.timeout,
            max_retries=0,
        )
        try:
            stream = await _within(
                deadline,
                loop,
                client.chat.completions.create(
                    model=self.model,
                    messages=chat,  # type: ignore[arg-type]
                    stream=True,
                    temperature=0.2,
                    max_tokens=MAX_TOKENS,
                ),
            )
            chunks = aiter(stream)
            while True:
                try:
                    chunk: Any = await _within(deadline, loop, anext(chunks))
                except StopAsyncIteration:
                    break
                choice = chunk.choices[0] if chunk.choices else None
                text = choice.delta.content if choice else None
                if text:
                    produced = True
                    yield text
                if choice is not None and choice.finish_reason == "length":
                    yield CUT
        except TimeoutError:
            raise GenerationError(f"the model took longer than {self.timeout:g} s") from None
        except openai.APIStatusError as exc:
            raise GenerationError(f"the model answered with status {exc.status_code}") from exc
        except openai.APIConnectionError as exc:
            raise GenerationError(f"the model could not be reached at {self.url}") from exc
        except (openai.OpenAIError, ValueError, AttributeError, IndexError) as exc:
            raise GenerationError(f"the model's reply could not be read: {exc}") from exc
        finally:
            await client.close()
        if not produced:
            raise GenerationError("the model returned an empty answer")


async def _within(deadline: float, loop: asyncio.AbstractEventLoop, step: Any) -> Any:
    """Await one step of the exchange, or TimeoutError once the answer's deadline passes."""
    return await asyncio.wait_for(step, max(0.0, deadline - loop.time()))
