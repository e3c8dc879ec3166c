"""The routes: each validates, calls the core, and returns a typed model or a page.

Dependencies read what `create_app` put on `request.app.state` (the index holder
and the settings), so the routes hold no state of their own.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from . import __version__
from .adding import Added, add_file, add_page
from .assistant import Assistant, Draft, Event, Started
from .cleaning import Block
from .conversation import Turn
from .corpus import slugify
from .errors import (
    CareerQAError,
    DocumentError,
    FeedbackError,
    FetchRefused,
    IndexBusyError,
    QuestionError,
    StoreError,
)
from .feedback import MAX_ID, FeedbackStore, export_lines
from .fetching import Guard, fetch
from .query import MAX_QUESTION_CHARS
from .schemas import (
    AskRequest,
    AskResponse,
    DocumentIn,
    DocumentOut,
    ErrorOut,
    FeedbackIn,
    FeedbackOut,
    Health,
    Readiness,
    ReindexOut,
)
from .security import DOCUMENT_MAX_BYTES, FEEDBACK_MAX_BYTES, MAX_BODY_BYTES, RateLimiter
from .serving import IndexHolder
from .settings import Settings

WEB = Path(str(files("careerqa.web")))
templates = Jinja2Templates(directory=str(WEB / "templates"))
EXAMPLE_QUESTIONS = [
    "How much do entry-level machine learning engineers earn?",
    "Do I need a degree to become a machine learning engineer?",
    "Which online platforms offer machine learning courses?",
    "What project ideas are good for beginners?",
]
# Errors of HTML routes are still JSON (FastAPI's HTTPException).
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}

log = logging.getLogger(__name__)
router = APIRouter()


def holder(request: Request) -> IndexHolder:
    """The app's index holder."""
    live: IndexHolder = request.app.state.holder
    return live


# async: it only reads a reference, and a sync dependency would cost every request
# a hop to the thread pool (measured: +33 MB RSS and slower p99 at 16 clients).
async def assistant(request: Request) -> Assistant:
    """The assistant of the index being served; 503 while there is none."""
    live = holder(request)
    current = live.assistant
    if current is None:
        reason = live.last_error or (
            "the index is being built" if live.rebuilding else "the index is still loading"
        )
        raise HTTPException(503, f"no index loaded: {reason} — run `careerqa ingest`")
    return current


def admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """The bearer token of CAREERQA_ADMIN_TOKEN; 404 when unset, 401 when wrong."""
    token = request.app.state.settings.admin_token
    if not token:
        raise HTTPException(404, "admin routes are off: set CAREERQA_ADMIN_TOKEN to enable them")
    if not _bearer(authorization, token):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def asker(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """The bearer token of CAREERQA_API_KEY, when set; asking is open otherwise."""
    key = request.app.state.settings.api_key
    if key and not _bearer(authorization, key):
        raise HTTPException(
            401,
            "a valid API key is required (Authorization: Bearer …)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _bearer(authorization: str | None, token: str) -> bool:
    """Does the Authorization header carry this bearer token (compared in constant time)?"""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        given.strip().encode(), token.encode()
    )


Live = Annotated[Assistant, Depends(assistant)]
Asking = [Depends(asker)]
# Every request body over the limit is refused before it reaches a route (security.py).
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"description": f"The body is larger than {MAX_BODY_BYTES // 1024} KiB."}
}


@router.post(
    "/ask",
    dependencies=Asking,
    responses={
        400: {"model": ErrorOut, "description": "The body is not UTF-8 JSON."},
        **TOO_LARGE,
        422: {"model": ErrorOut, "description": "A field is missing or invalid."},
        503: {
            "model": ErrorOut,
            "description": "No index is loaded, or the search store (Milvus) is unreachable.",
        },
    },
    summary="Answer a question with cited passages",
)
async def ask(body: AskRequest, live: Live) -> AskResponse:
    history = [Turn(t.role, t.content) for t in body.history]
    try:
        answer = await live.ask(body.question, body.top_k, history)
    except QuestionError as exc:
        raise HTTPException(422, str(exc)) from exc
    except StoreError as exc:  # the search store (Milvus) is down or lost the build
        log.error("search store failed: %s", exc)
        raise HTTPException(503, str(exc)) from exc
    return AskResponse.from_answer(answer)


@router.post(
    "/ask/stream",
    dependencies=Asking,
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-sent events: `citations` ({mode, citations}), then `delta` "
            "({text}) pieces of the answer as it is produced (a generated draft is unchecked), "
            "then `done` (the AskResponse, checked: it replaces the draft), or `error` "
            "({detail}).",
        },
        400: {"model": ErrorOut, "description": "The body is not UTF-8 JSON."},
        **TOO_LARGE,
        422: {"model": ErrorOut, "description": "A field is missing or invalid."},
        503: {"model": ErrorOut, "description": "No index is loaded."},
    },
    summary="Answer a question, streamed as server-sent events",
)
async def ask_stream(body: AskRequest, live: Live) -> StreamingResponse:
    history = [Turn(t.role, t.content) for t in body.history]
    events = live.stream(body.question, body.top_k, history)
    return StreamingResponse(
        sse(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def sse(events: AsyncIterator[Event]) -> AsyncIterator[str]:
    """The assistant's events as server-sent events."""
    try:
        async for event in events:
            if isinstance(event, Started):
                citations = [c.model_dump() for c in event.citations]
                yield _event("citations", {"mode": event.mode, "citations": citations})
            elif isinstance(event, Draft):
                yield _event("delta", {"text": event.text})
            else:
                yield _event("done", AskResponse.from_answer(event.answer).model_dump())
    except (QuestionError, StoreError) as exc:
        yield _event("error", {"detail": str(exc)})


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="An index is loaded and questions can be answered",
)
async def readyz(request: Request) -> Any:
    live = holder(request)
    current = live.assistant
    if current is None:
        body = Readiness(ready=False, rebuilding=live.rebuilding, last_error=live.last_error)
        return JSONResponse(body.model_dump(), status_code=503)
    manifest = current.data.manifest
    return Readiness(
        ready=True,
        documents=len(current.data.documents),
        chunks=len(current.data.chunks),
        model=manifest.model,
        built_at=manifest.built_at,
        build_id=manifest.build_id,
        rebuilding=live.rebuilding,
        last_error=live.last_error,
    )


@router.post(
    "/reindex",
    dependencies=[Depends(admin)],
    responses={
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        **TOO_LARGE,
        500: {"model": ErrorOut, "description": "The rebuild failed; the previous index stays."},
    },
    summary="Rebuild the index from the corpus (bearer token from CAREERQA_ADMIN_TOKEN)",
)
def reindex(request: Request, full: bool = False) -> ReindexOut:
    try:
        report = holder(request).rebuild(full=full)
    except IndexBusyError as exc:
        raise HTTPException(409, str(exc)) from exc
    except CareerQAError as exc:
        raise HTTPException(
            500, f"rebuild failed, still serving the previous index: {exc}"
        ) from exc
    return ReindexOut.from_report(report)


_DOCUMENT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/DocumentIn"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
    },
}


@router.post(
    "/documents",
    status_code=201,
    dependencies=[Depends(admin)],
    max_body_size=DOCUMENT_MAX_BYTES,
    openapi_extra={"requestBody": _DOCUMENT_BODY},
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut, "description": "A URL the server may not fetch."},
        404: {"model": ErrorOut, "description": "Admin routes are off."},
        409: {"model": ErrorOut, "description": "Another rebuild is running; the file is saved."},
        413: {"description": f"Over {DOCUMENT_MAX_BYTES // 2**20} MB."},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut, "description": "Cannot be fetched or converted."},
    },
    summary="Add a web page (JSON `url`) or a file (multipart `file`) to the corpus, "
    "then update the index (bearer token from CAREERQA_ADMIN_TOKEN)",
)
async def documents(request: Request) -> DocumentOut:
    """Fetch or take the document, convert it, save it as Markdown in the corpus, reindex.

    URLs must be http or https; ones that resolve to loopback, private or link-local
    addresses are refused (403) unless CAREERQA_FETCH_ALLOW names them.
    """
    settings: Settings = request.app.state.settings
    try:
        added = await _add_document(request, settings)
    except FetchRefused as exc:
        raise HTTPException(403, str(exc)) from exc
    except DocumentError as exc:
        raise HTTPException(422, str(exc)) from exc
    source = added.path.relative_to(settings.corpus_dir).as_posix()
    try:
        report = await run_in_threadpool(holder(request).rebuild)
    except IndexBusyError as exc:
        raise HTTPException(409, f"saved {source}, but {exc}") from exc
    except CareerQAError as exc:
        raise HTTPException(500, f"saved {source}, but the rebuild failed: {exc}") from exc
    return DocumentOut(
        path=source,
        doc_id=slugify(source.rsplit(".", 1)[0]),
        title=added.title,
        replaced=added.replaced,
        index=ReindexOut.from_report(report),
    )


async def _add_document(request: Request, settings: Settings) -> Added:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            url = DocumentIn.model_validate_json(await request.body()).url
        except ValidationError as exc:
            raise HTTPException(422, f'expected {{"url": "https://…"}}: {exc}') from exc
        guard = Guard.parse(settings.fetch_allow)
        page = await run_in_threadpool(fetch, url, timeout=settings.fetch_timeout, guard=guard)
        return await run_in_threadpool(add_page, settings.corpus_dir, page, url)
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(422, "expected one file in the form field `file`")
        body = await upload.read()
        return await run_in_threadpool(
            add_file, settings.corpus_dir, upload.filename, body, upload.content_type or ""
        )
    raise HTTPException(415, 'send JSON {"url": …} or a multipart form with a `file`')


@router.post(
    "/feedback",
    status_code=201,
    max_body_size=FEEDBACK_MAX_BYTES,
    responses={
        400: {"model": ErrorOut, "description": "The body is not UTF-8 JSON."},
        413: {"description": f"The body is larger than {FEEDBACK_MAX_BYTES // 1024} KiB."},
        422: {"model": ErrorOut, "description": "A field is missing or invalid."},
        429: {
            "model": ErrorOut,
            "description": "Too many marks from this client; see Retry-After.",
        },
        503: {"model": ErrorOut, "description": "The feedback store cannot be written."},
    },
    summary="Mark an answer 👍 / 👎, or a citation as not supporting it",
)
def feedback(request: Request, body: FeedbackIn) -> FeedbackOut:
    limiter: RateLimiter = request.app.state.feedback_limiter
    wait = limiter.retry_after(request.client.host if request.client else "?")
    if wait:
        raise HTTPException(
            429,
            f"too many feedback posts: at most {limiter.limit} a minute",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    live = holder(request).assistant
    build_id = live.data.manifest.build_id if live else None
    store: FeedbackStore = request.app.state.feedback
    try:
        return FeedbackOut(id=store.add(body.to_feedback(build_id)))
    except FeedbackError as exc:
        raise HTTPException(503, f"feedback was not stored: {exc}") from exc


@router.get(
    "/feedback/export",
    dependencies=[Depends(admin)],
    response_class=Response,
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "Question-set lines."},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
    },
    summary="👎 and unsupported marks as question-set lines (bearer token as for /reindex)",
)
def feedback_export(
    request: Request,
    since: Annotated[int, Query(ge=0, le=MAX_ID, description="Only marks with a larger id.")] = 0,
) -> Response:
    store: FeedbackStore = request.app.state.feedback
    try:
        rows = store.rows(("down", "unsupported"), since)
    except FeedbackError as exc:
        raise HTTPException(503, str(exc)) from exc
    lines = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in export_lines(rows))
    return Response(lines, media_type="application/x-ndjson")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "chat.html",
        {"examples": EXAMPLE_QUESTIONS, "version": __version__, "limit": MAX_QUESTION_CHARS},
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    return FileResponse(WEB / "static" / "favicon.ico", media_type="image/x-icon")


@router.get(
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
    view: Annotated[
        Literal["page", "panel"],
        Query(description="`panel`: without the site header, for the panel beside the chat."),
    ] = "page",
) -> HTMLResponse:
    doc = live.data.documents.get(doc_id)
    if doc is None:
        raise HTTPException(404, f"no article {doc_id!r} in the index")
    blocks = highlighted_blocks(doc.text, doc.blocks, start, end)
    return templates.TemplateResponse(
        request,
        "source.html",
        {"doc": doc, "blocks": blocks, "version": __version__, "panel": view == "panel"},
    )


def highlighted_blocks(
    text: str, blocks: list[Block], start: int | None, end: int | None
) -> list[dict[str, Any]]:
    """Blocks split into (text, highlighted, first-highlight) parts for the template.

    A block that starts a new page of the original (PDFs) carries `new_page`.
    """
    out = []
    anchored = False
    page = None
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
        new_page = block.page if block.page is not None and block.page != page else None
        page = block.page
        out.append({"kind": block.kind, "parts": parts, "new_page": new_page})
    return out
