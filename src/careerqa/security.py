"""HTTP hardening at the outermost layer: security headers and the body limit.

`EdgeMiddleware` wraps the whole app, FastAPI's own error and body-limit layers
included, so every response — a 500, a 413 — carries the same headers, and a
body announced as too large is refused as JSON before anything reads it.
Pure ASGI, no per-request objects.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Room for the documented maxima: a 1,000-character question and 20 history turns of
# 4,000 characters at 4 UTF-8 bytes each (about 330 KB), with JSON around them.
MAX_BODY_BYTES = 512 * 1024
TOO_LARGE = f"request body is larger than {MAX_BODY_BYTES // 1024} KiB"

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

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
SECURITY_HEADERS = [*_COMMON, (b"content-security-policy", STRICT_CSP.encode())]


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
        self.too_large = json.dumps({"detail": TOO_LARGE}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope["path"].startswith(DOCS_PATHS) else self.strict
        if _declared_length(scope) > MAX_BODY_BYTES:
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(self.too_large)).encode()),
                        (b"connection", b"close"),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": self.too_large})
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
