"""HTTP hardening: security headers and the body limit at the outermost layer; rate limits.

`EdgeMiddleware` wraps the whole app, FastAPI's own error and body-limit layers
included, so every response — a 500, a 413 — carries the same headers, and a
body announced as too large is refused as JSON before anything reads it.
Pure ASGI, no per-request objects.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .converting import MAX_BYTES

# Room for the documented maxima: a 1,000-character question and 20 history turns of
# 4,000 characters at 4 UTF-8 bytes each (about 330 KB), with JSON around them.
MAX_BODY_BYTES = 512 * 1024
# Feedback: a question, an answer, a comment and the cited passages fit in far less.
FEEDBACK_MAX_BYTES = 64 * 1024
# A document upload: the largest file converted, with room for the multipart framing.
DOCUMENT_MAX_BYTES = MAX_BYTES + 64 * 1024
BODY_LIMITS = {"/feedback": FEEDBACK_MAX_BYTES, "/documents": DOCUMENT_MAX_BYTES}


def body_limit(path: str) -> int:
    """The largest request body accepted at `path`."""
    return BODY_LIMITS.get(path, MAX_BODY_BYTES)


def too_large(limit: int) -> str:
    return f"request body is larger than {limit // 1024} KiB"


# The app's own scripts and styles only; nothing inline, nothing from elsewhere.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI and ReDoc start from an inline script (their assets are still local).
# ReDoc runs its search in a worker it starts from a blob: URL.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
# The source view opens in a panel beside the chat: framed by this app's own pages only.
FRAMED_CSP = STRICT_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
FRAMED_PATHS = ("/sources/",)

_BASE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_COMMON = [*_BASE, (b"x-frame-options", b"DENY")]
SECURITY_HEADERS = [*_COMMON, (b"content-security-policy", STRICT_CSP.encode())]
FRAMED_HEADERS = [
    *_BASE,
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", FRAMED_CSP.encode()),
]


def json_error(status: int, detail: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A whole HTTP/1.1 error response with a JSON body and the security headers, then close.

    For refusals made below the app (the server's connection limits).
    """
    body = json.dumps({"detail": detail}).encode()
    reason = _REASONS.get(status, b"Error")
    head = [b"HTTP/1.1 %d %s" % (status, reason)]
    for name, value in [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
        *extra,
    ]:
        head.append(name + b": " + value)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


_REASONS = {
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


class EdgeMiddleware:
    """Security headers on every HTTP response; a JSON 413 for a too-large Content-Length."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.strict = SECURITY_HEADERS
        self.docs = [*_COMMON, (b"content-security-policy", DOCS_CSP.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(DOCS_PATHS):
            extra = self.docs
        elif path.startswith(FRAMED_PATHS):
            extra = FRAMED_HEADERS
        else:
            extra = self.strict
        limit = body_limit(path)
        if _declared_length(scope) > limit:
            body = json.dumps({"detail": too_large(limit)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _declared_length(scope: Scope) -> int:
    """The request's Content-Length, or 0 when absent or unreadable (the stream is counted)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class RateLimiter:
    """At most `limit` events per client in any `window` seconds (a sliding window).

    Per process and in memory: with several workers each counts its own. The clients
    remembered are bounded; the one seen longest ago is forgotten first.
    """

    def __init__(self, limit: int, window: float = 60.0, clients: int = 10_000):
        self.limit = limit
        self.window = window
        self.clients = clients
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> float:
        """0 and the event counted when allowed, else the seconds until it would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._seen.pop(client, None) or deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            self._seen[client] = times  # re-inserted: most recently seen last
            if len(self._seen) > self.clients:
                self._seen.popitem(last=False)
            if len(times) >= self.limit:
                return times[0] + self.window - now
            times.append(now)
            return 0.0
