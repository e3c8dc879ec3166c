"""The web app: `create_app(settings)` builds it; routes validate, call the core, return models."""

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .answering import answer_to_dict
from .assistant import Assistant
from .conversation import Turn
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import CareerQAError, IndexBusyError, QuestionError
from .schemas import AskRequest, AskResponse, ErrorOut, Health, Readiness, ReindexOut
from .security import MAX_BODY_BYTES, SecurityHeadersMiddleware
from .serving import IndexHolder
from .settings import Settings

log = logging.getLogger(__name__)

WEB = Path(str(files("careerqa.web")))
EXAMPLE_QUESTIONS = [
    "How much do entry-level machine learning engineers earn?",
    "Do I need a degree to become a machine learning engineer?",
    "Which online platforms offer machine learning courses?",
    "What project ideas are good for beginners?",
]

# Errors of HTML routes are still JSON (FastAPI's HTTPException).
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}

DESCRIPTION = """
Answers career questions from a folder of articles. Every sentence of an answer
is copied from a retrieved passage and followed by `[n]`, the number of the
citation it came from; each citation links to the passage in its article.
When the articles don't cover a question, `answered` is false and nothing is cited.
"""


def create_app(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    watch: bool = False,
    poll_interval: float = 1.0,
) -> FastAPI:
    """The careerqa app; the index is built or refreshed and loaded at startup."""
    model = embedder or SentenceTransformerEmbedder.from_settings(settings)
    holder = IndexHolder(settings, model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(holder.startup)
        holder.start(watch=watch, poll_interval=poll_interval)
        try:
            yield
        finally:
            holder.stop()

    # FastAPIOffline serves the /docs and /redoc assets itself: no CDN on these machines.
    app = FastAPIOffline(
        title="careerqa",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Larger bodies get 413 from the Content-Length (or as soon as the stream
        # passes the limit), without being read whole.
        max_body_size=MAX_BODY_BYTES,
    )
    app.add_middleware(SecurityHeadersMiddleware)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and request.method == "POST":
            # FastAPI's word for a body it could not decode at all (bad UTF-8 and the like).
            exc = StarletteHTTPException(400, "request body is not valid UTF-8 JSON")
        if exc.status_code == 413:
            exc = StarletteHTTPException(
                413, f"request body is larger than {MAX_BODY_BYTES // 1024} KiB"
            )
        return await http_exception_handler(request, exc)

    app.state.holder = holder
    app.state.settings = settings
    templates = Jinja2Templates(directory=str(WEB / "templates"))
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")

    # async: it only reads a reference, and a sync dependency would cost every request
    # a hop to the thread pool (measured: +33 MB RSS and slower p99 at 16 clients).
    async def assistant() -> Assistant:
        current = holder.assistant
        if current is None:
            reason = holder.last_error or "the index is still loading"
            raise HTTPException(503, f"no index loaded: {reason} — run `careerqa ingest`")
        return current

    Live = Annotated[Assistant, Depends(assistant)]

    @app.post(
        "/ask",
        response_model=AskResponse,
        responses={
            400: {"model": ErrorOut, "description": "The body is not UTF-8 JSON."},
            413: {"description": "The body is larger than 64 KiB."},
            422: {"model": ErrorOut, "description": "A field is missing or invalid."},
            503: {"model": ErrorOut, "description": "No index is loaded."},
        },
        summary="Answer a question with cited passages",
    )
    async def ask(body: AskRequest, live: Live) -> Response:
        history = [Turn(t.role, t.content) for t in body.history]
        try:
            plan = live.plan(body.question, body.top_k, history)
        except QuestionError as exc:
            raise HTTPException(422, str(exc)) from exc
        # The model runs in the batching worker; retrieval and composing are
        # sub-millisecond numpy work, done here without a thread hop.
        vectors = await holder.questions.embed_async(plan.texts)
        answer = live.answer(plan, vectors)
        # Built from the same dataclasses as AskResponse; serialized once, not re-validated.
        return Response(json.dumps(answer_to_dict(answer)), media_type="application/json")

    @app.get("/healthz", response_model=Health, summary="The process is up")
    async def healthz() -> Health:
        return Health()

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness}},
        summary="An index is loaded and questions can be answered",
    )
    async def readyz() -> Any:
        current = holder.assistant
        if current is None:
            body = Readiness(ready=False, last_error=holder.last_error)
            return JSONResponse(body.model_dump(), status_code=503)
        manifest = current.data.manifest
        return Readiness(
            ready=True,
            documents=len(current.data.documents),
            chunks=len(current.data.chunks),
            model=manifest.model,
            built_at=manifest.built_at,
            build_id=manifest.build_id,
            last_error=holder.last_error,
        )

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.admin_token
        if not token:
            raise HTTPException(404, "reindex is off: set CAREERQA_ADMIN_TOKEN to enable it")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    @app.post(
        "/reindex",
        response_model=ReindexOut,
        dependencies=[Depends(admin)],
        responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
        summary="Rebuild the index from the corpus (bearer token from CAREERQA_ADMIN_TOKEN)",
    )
    def reindex(full: bool = False) -> ReindexOut:
        try:
            report = holder.rebuild(full=full)
        except IndexBusyError as exc:
            raise HTTPException(409, str(exc)) from exc
        except CareerQAError as exc:
            raise HTTPException(
                500, f"rebuild failed, still serving the previous index: {exc}"
            ) from exc
        return ReindexOut(
            added=report.added,
            changed=report.changed,
            removed=report.removed,
            unchanged=report.unchanged,
            skipped=[list(s) for s in report.skipped],
            chunks_embedded=report.chunks_embedded,
            build_id=report.build_id,
            seconds=round(report.seconds, 3),
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "chat.html", {"examples": EXAMPLE_QUESTIONS, "version": __version__}
        )

    @app.get(
        "/sources/{doc_id}",
        response_class=HTMLResponse,
        summary="An article, the cited passage highlighted",
        responses={
            404: {"description": "No article with that id.", "content": _JSON_ERROR},
            503: {"description": "No index is loaded.", "content": _JSON_ERROR},
        },
    )
    def source(
        request: Request,
        doc_id: str,
        live: Live,
        start: Annotated[int | None, Query(ge=0)] = None,
        end: Annotated[int | None, Query(ge=0)] = None,
    ) -> HTMLResponse:
        doc = live.data.documents.get(doc_id)
        if doc is None:
            raise HTTPException(404, f"no article {doc_id!r} in the index")
        blocks = _highlighted_blocks(doc.text, doc.blocks, start, end)
        return templates.TemplateResponse(
            request, "source.html", {"doc": doc, "blocks": blocks, "version": __version__}
        )

    return app


def _highlighted_blocks(
    text: str, blocks: list[Any], start: int | None, end: int | None
) -> list[dict[str, Any]]:
    """Blocks split into (text, highlighted, first-highlight) parts for the template."""
    out = []
    anchored = False
    for block in blocks:
        parts = []
        a, b = block.start, block.end
        if start is not None and end is not None and start < b and end > a:
            lo, hi = max(a, start), min(b, end)
            if lo > a:
                parts.append({"text": text[a:lo], "mark": False})
            parts.append({"text": text[lo:hi], "mark": True, "anchor": not anchored})
            anchored = True
            if hi < b:
                parts.append({"text": text[hi:b], "mark": False})
        else:
            parts.append({"text": text[a:b], "mark": False})
        out.append({"kind": block.kind, "parts": parts})
    return out
