"""Running the app under uvicorn with every connection bounded.

uvicorn's httptools protocol times out only idle keep-alive connections, reads
headers of any size, and refuses connections over its limit only once their
request has arrived. `BoundedHttpProtocol` adds what a public server needs:
a request (headers and body) must arrive within `request_timeout` seconds, its
headers within MAX_HEADER_BYTES and MAX_HEADERS, and a connection beyond
`max_connections` is refused at once with a JSON 503. Every refusal is JSON with
the security headers, and closes the connection.

The socket is bound before uvicorn starts, so a busy port is one clear error.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import ServerError
from .security import json_error
from .settings import Settings

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 32 * 1024  # request line and headers
MAX_HEADERS = 100
# Descriptors kept free for the index files, the model and logging.
_SPARE_DESCRIPTORS = 64


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request timeout, header limits and a connection cap."""

    max_connections = 1000
    request_timeout = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between a request's first byte and the end of its headers
        self._unparsed = 0  # bytes received while the headers are incomplete: bounds memory
        self._head_bytes = 0  # request line and headers as parsed: checked once they end
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("refused a connection: %d open", len(self.connections) - 1)
            self._refuse(
                503,
                f"the server is at its limit of {self.max_connections} connections; "
                "try again shortly",
                ((b"retry-after", b"1"),),
            )
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:
            self._arm()  # the next request on a kept-alive connection starts arriving
        super().data_received(data)
        if self._in_head:
            self._unparsed += len(data)
            if self._unparsed > MAX_HEADER_BYTES:
                self._refusal = (431, f"request headers are larger than {MAX_HEADER_BYTES} bytes")
        if self._refusal and not self.transport.is_closing():
            self._refuse(*self._refusal)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._unparsed, self._head_bytes, self._header_count = True, 0, 0, 0

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_bytes += len(name) + len(value)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._header_count > MAX_HEADERS:
            self._refusal = (431, f"a request may have at most {MAX_HEADERS} headers")
        elif self._head_bytes > MAX_HEADER_BYTES:
            self._refusal = (431, f"request headers are larger than {MAX_HEADER_BYTES} bytes")
        if self._refusal is None:  # else the app never sees it; data_received refuses it
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refusal is None and self.cycle is not None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()  # the whole request is here; answering it takes what it takes
        if self._refusal is None and self.cycle is not None:
            super().on_message_complete()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # the app is reading this body: it sees a disconnect
            return
        self._refuse(408, f"the request did not arrive within {self.request_timeout:g} s")

    def _refuse(
        self, status: int, detail: str, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(json_error(status, detail, extra))
            self.transport.close()


def connection_limit(wanted: int) -> int:
    """`wanted`, lowered to what the process' descriptor limit can hold."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - _SPARE_DESCRIPTORS))


def configure(
    app: Any,
    *,
    max_connections: int,
    request_timeout: float = 20.0,
    log_level: str = "info",
) -> uvicorn.Config:
    """uvicorn settings for careerqa: bounded protocol, short keep-alive, quick shutdown."""
    protocol = type(
        "BoundedHttp",
        (BoundedHttpProtocol,),
        {"max_connections": connection_limit(max_connections), "request_timeout": request_timeout},
    )
    return _config(app, protocol, log_level)


def _config(app: Any, http: Any, log_level: str = "info", **extra: Any) -> uvicorn.Config:
    """uvicorn's settings shared by one process and by `serve --workers`."""
    return uvicorn.Config(
        app,
        http=http,
        timeout_keep_alive=5,
        # SIGTERM: requests in flight get 3 s to finish, then the process exits.
        timeout_graceful_shutdown=3,
        log_level=log_level,
        access_log=False,
        **extra,
    )


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port; ServerError saying why when it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = (
            " — another server is using it; stop it or choose another --port"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from exc
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, settings: Settings) -> None:
    """Serve on a bound socket until SIGINT or SIGTERM."""
    config = configure(
        app, max_connections=settings.max_connections, request_timeout=settings.request_timeout
    )
    uvicorn.Server(config).run(sockets=[sock])


# How `serve --workers N` hands its settings to the worker processes (started with spawn:
# each one imports careerqa afresh and loads the model once).
_WORKER_SETTINGS = "CAREERQA_WORKER_SETTINGS"
_WORKER_WATCH = "CAREERQA_WORKER_WATCH"


class WorkerHttp(BoundedHttpProtocol):
    """The bounded protocol in a worker process; `worker_app` sets its limits."""


def worker_app() -> Any:
    """The app of one worker process, from the settings the parent process was given."""
    from .app import create_app

    settings = Settings.model_validate_json(os.environ[_WORKER_SETTINGS])
    WorkerHttp.max_connections = connection_limit(settings.max_connections)
    WorkerHttp.request_timeout = settings.request_timeout
    return create_app(settings, watch=os.environ.get(_WORKER_WATCH) == "1")


def serve_workers(sock: socket.socket, settings: Settings, workers: int, watch: bool) -> None:
    """Serve on a bound socket with `workers` processes, each with its own model and
    loaded build (the build's vectors memory-mapped, shared), until SIGINT or SIGTERM.

    Each worker polls CURRENT, so a build made by any of them, by `careerqa ingest` or
    by POST /reindex is served by all within a second; rebuilds take the index lock,
    one at a time.
    """
    from uvicorn.supervisors import Multiprocess

    os.environ[_WORKER_SETTINGS] = settings.model_dump_json()
    os.environ[_WORKER_WATCH] = "1" if watch else "0"
    config = _config(
        "careerqa.server:worker_app",
        "careerqa.server:WorkerHttp",  # by name: the spawned workers import it
        factory=True,
        workers=workers,
    )
    Multiprocess(config, sockets=[sock]).run()
