"""A scripted OpenAI-compatible chat server on 127.0.0.1, for the paths a real model rarely takes.

The real model (llama.cpp serving Gemma 3 270M) runs in the tests marked `llm`;
this one says exactly what a test needs — a wrong figure, a citation to a passage
that doesn't exist, garbage, silence, slowness — over real HTTP, through the real
`openai` client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse


class ScriptedModel:
    """`reply` is what the next answers say; `behaviour` how: text, garbage, empty, slow, 500,
    or cut (the reply, then finish_reason "length": stopped at the token limit)."""

    def __init__(self) -> None:
        self.reply = ""
        self.behaviour = "text"
        self.requests: list[dict] = []
        app = FastAPI()
        app.post("/v1/chat/completions")(self._complete)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        self._sock = sock
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> ScriptedModel:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    async def _complete(self, request: Request) -> Response:
        self.requests.append(await request.json())
        if self.behaviour == "500":
            return PlainTextResponse("overloaded", status_code=500)
        if self.behaviour == "garbage":
            return PlainTextResponse("data: {not json\n\n", media_type="text/event-stream")
        return StreamingResponse(self._events(), media_type="text/event-stream")

    async def _events(self):
        words = [] if self.behaviour == "empty" else self.reply.split(" ")
        for i, word in enumerate(words):
            if self.behaviour == "slow":
                await asyncio.sleep(1.0)
            piece = word if i == 0 else " " + word
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "scripted",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk)}\n\n"
        if self.behaviour == "cut":
            last = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "scripted",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
            }
            yield f"data: {json.dumps(last)}\n\n"
        yield "data: [DONE]\n\n"
