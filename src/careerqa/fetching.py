"""Fetching a page to add to the corpus: http(s) only, bounded, and never inward unless allowed.

`fetch` follows redirects itself (at most `MAX_REDIRECTS`), checking every hop's
scheme, and reads at most `converting.MAX_BYTES` within the timeout. With a `Guard`
(the server's `POST /documents`), every hop's host is resolved first and refused
when any of its addresses is loopback, private, link-local or otherwise not public
— unless the allow-list names the host or a network holding the address — and the
connection then goes to the address that was checked, so a second DNS answer
cannot point it elsewhere. `careerqa add`, run by the machine's owner, fetches any
http(s) URL.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from . import __version__
from .converting import MAX_BYTES
from .errors import DocumentError, FetchRefused

USER_AGENT = f"careerqa/{__version__} (document fetcher)"
MAX_REDIRECTS = 5
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Fetched:
    """What a URL returned: where it ended up, its content type and body."""

    url: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Guard:
    """Which hosts and networks may be fetched although they are not public."""

    hosts: frozenset[str]
    networks: tuple[_Network, ...]

    @classmethod
    def parse(cls, allow: str) -> Guard:
        """From "intranet.example, 10.1.0.0/16, 127.0.0.1" (CAREERQA_FETCH_ALLOW)."""
        hosts, networks = set(), []
        for item in filter(None, (part.strip() for part in allow.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def check(self, host: str, addresses: list[_Address]) -> None:
        """FetchRefused when the host resolves to an internal address not allowed."""
        if host.lower().rstrip(".") in self.hosts:
            return
        for address in addresses:
            kind = _internal_kind(address)
            if kind and not any(address in network for network in self.networks):
                raise FetchRefused(
                    f"refused to fetch from {host}: it resolves to {address}, a {kind} "
                    "address (CAREERQA_FETCH_ALLOW can allow it)"
                )


def _internal_kind(address: _Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-public"


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; FetchRefused for any other scheme."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DocumentError(f"not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchRefused(
            f"only http and https URLs can be added, not {parts.scheme or 'a bare path'}:"
        )
    if not parts.hostname:
        raise DocumentError(f"the URL {url!r} names no host")
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int) -> list[_Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DocumentError(f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def fetch(url: str, *, timeout: float, guard: Guard | None = None) -> Fetched:
    """GET a page, following at most MAX_REDIRECTS redirects; DocumentError says why not."""
    deadline = time.monotonic() + timeout
    with httpx.Client(
        headers={"User-Agent": USER_AGENT}, follow_redirects=False, trust_env=guard is None
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            response = _get(client, url, deadline, guard)
            if response is None:
                raise DocumentError(f"{url} took longer than {timeout:g} s")
            if isinstance(response, str):  # a redirect
                url = response
                continue
            return response
    raise DocumentError(f"more than {MAX_REDIRECTS} redirects")


def _get(
    client: httpx.Client, url: str, deadline: float, guard: Guard | None
) -> Fetched | str | None:
    """The page, the URL a redirect points to, or None when time ran out."""
    scheme, host, port = check_url(url)
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    target = url
    headers: dict[str, str] = {}
    extensions: dict[str, object] = {}
    if guard is not None:
        addresses = resolve(host, port)
        guard.check(host, addresses)
        target, headers, extensions = _pinned(url, host, addresses[0], scheme)
    try:
        with client.stream(
            "GET", target, headers=headers, extensions=extensions, timeout=left
        ) as response:
            if response.is_redirect:
                location = response.headers.get("location", "")
                return urljoin(url, location)
            if response.status_code >= 400:
                raise DocumentError(f"{url} answered {response.status_code}")
            body = _read(response, deadline)
            if body is None:
                return None
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(url, kind, body)
    except httpx.TimeoutException:
        return None
    except httpx.HTTPError as exc:
        raise DocumentError(f"cannot fetch {url}: {exc}") from None


def _pinned(
    url: str, host: str, address: _Address, scheme: str
) -> tuple[str, dict[str, str], dict[str, object]]:
    """The URL with the checked address as its host, the Host header and TLS name."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal + (f":{parts.port}" if parts.port else "")
    extensions: dict[str, object] = {"sni_hostname": host} if scheme == "https" else {}
    host_header = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, extensions


def _read(response: httpx.Response, deadline: float) -> bytes | None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise DocumentError(_too_big(int(declared)))
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > MAX_BYTES:
            raise DocumentError(_too_big(len(body)))
        if time.monotonic() > deadline:
            return None
    return bytes(body)


def _too_big(size: int) -> str:
    return f"the page is over the {MAX_BYTES // 2**20} MB limit ({size / 2**20:.0f} MB or more)"
