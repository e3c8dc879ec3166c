"""The web app: `create_app(settings)` assembles the routes, the index holder and the edges."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .embedding import Embedder, SentenceTransformerEmbedder
from .feedback import FeedbackStore
from .openai_api import router as openai_router
from .routes import WEB, router
from .security import MAX_BODY_BYTES, EdgeMiddleware, RateLimiter, body_limit, too_large
from .serving import IndexHolder
from .settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Answers career questions from a folder of articles. Every sentence of an answer
is copied from a retrieved passage and followed by `[n]`, the number of the
citation it came from; each citation links to the passage in its article.
When the articles don't cover a question, `answered` is false and nothing is cited.

`POST /feedback` takes 👍 / 👎 on an answer or a citation marked as not supporting
it (no token needed, rate-limited per client); `GET /feedback/export` gives the 👎
and unsupported marks back as question-set lines, with the admin token only.
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
    # EdgeMiddleware goes outside all of FastAPI's own layers (add_middleware would put
    # it inside its error and body-limit layers), so their 500s and 413s get its headers.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: EdgeMiddleware(build_stack())  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.holder = IndexHolder(settings, model)
    app.state.feedback = FeedbackStore(settings.data_dir)
    app.state.feedback_limiter = RateLimiter(settings.feedback_per_minute)
    app.state.watch = watch
    app.state.poll_interval = poll_interval
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(Exception)(server_error)
    app.include_router(router)
    app.include_router(openai_router)
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load (or build) the index before serving; stop the background threads after."""
    holder: IndexHolder = app.state.holder
    await run_in_threadpool(holder.startup)
    holder.start(watch=app.state.watch, poll_interval=app.state.poll_interval)
    try:
        yield
    finally:
        holder.stop()
        app.state.feedback.close()


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's error JSON, with messages that say what was wrong with the request."""
    if exc.status_code == 400 and request.method == "POST":
        # FastAPI's word for a body it could not parse; the cause says why.
        if isinstance(exc.__cause__, RecursionError):
            exc = StarletteHTTPException(400, "request body is JSON nested too deeply")
        else:
            exc = StarletteHTTPException(400, "request body is not valid UTF-8 JSON")
    if exc.status_code == 413:
        exc = StarletteHTTPException(413, too_large(body_limit(request.url.path)))
    return await http_exception_handler(request, exc)


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each problem. The offending values are not echoed: NaN, Infinity or a
    lone surrogate cannot be written as JSON, and would turn the refusal into a 500."""
    errors = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


async def server_error(request: Request, exc: Exception) -> Response:
    """A fault of ours: logged with its traceback, answered with JSON, never the trace."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error; the server log says more"}, status_code=500)
