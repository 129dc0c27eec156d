"""The network side of the SSRF-safe fetch (ASSET_POLICY=inline): URL checks, the pinned DNS
resolver, the session, capped reads. The loop that uses them is in fetch.py; which addresses
count as public, in addresses.py. AssetError is defined here so these modules import nothing
back.

Deliberate choices:
- One URL parser: yarl, the one aiohttp uses. The URL object that was checked is the one that
  is requested, so no second parser can read the host differently. Whitespace, control
  characters and backslashes are refused outright, as other parsers disagree about them.
- The connector's resolver answers only from the pin set for the current hop (a context
  variable, set by fetch.py after it checked every address), so aiohttp makes no lookup of its
  own and SNI and Host keep the hostname. aiohttp's DNS cache is off; pooled keep-alive
  connections are keyed by host and port and were all opened to addresses checked by the same
  rules.
- Bodies are not decompressed (`Accept-Encoding: identity`; an encoded reply is refused), so
  ASSET_MAX_BYTES counts the bytes received and no compression bomb is ever inflated.
- No cookie jar: one session serves every caller, and cookies must not pass between them.
- The fetches of one request share a ByteBudget (ASSET_MAX_TOTAL_BYTES), charged from
  Content-Length before reading or chunk by chunk as bytes arrive, so a request is refused
  while its assets are read, not after they are all held.
"""

import asyncio
import contextvars
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

HostResolver = Callable[[str, int], Awaitable[list[str]]]
AssetKind = Literal["image", "file", "video"]

READ_CHUNK_BYTES = 64 * 1024

_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HOSTNAME = re.compile(r"[a-z0-9_.-]+")  # yarl lowercases hosts and IDNA-encodes non-ASCII


class AssetError(Exception):
    """Refused or failed asset; `.message` is safe to show the caller (no internals)."""

    message: str
    host: str | None  # for the log line only

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host


def origin(url: URL) -> str:
    """The URL reduced to scheme, host and port: safe to show and log (no path or query)."""
    return f"{url.origin()}/"


def check_http_url(url: URL, *, allow_http: bool) -> str:
    """Apply the syntax rules to a parsed http(s) URL; returns its host."""
    if url.scheme not in ("http", "https"):
        raise AssetError("Remote asset refused: only http(s) URLs can be fetched")
    if url.scheme == "http" and not allow_http:
        raise AssetError(
            "Remote asset refused: only https URLs are allowed "
            "(set ASSET_ALLOW_HTTP=true to allow http)"
        )
    if url.user is not None or url.password is not None:
        raise AssetError("Remote asset refused: credentials in the URL are not allowed")
    host = url.raw_host
    if not host or not url.is_absolute():
        raise AssetError("Remote asset refused: malformed URL")
    # "%": an IPv6 zone names an interface of this machine, never a remote asset.
    if "%" in host or (":" not in host and not _HOSTNAME.fullmatch(host)):
        raise AssetError("Remote asset refused: malformed URL", host=host)
    return host


def parse_http_url(raw: str, *, allow_http: bool, base: URL | None = None) -> URL:
    """Parse (and, for a redirect, join onto `base`) then check an http(s) URL."""
    if _UNSAFE_URL_CHARS.search(raw):
        raise AssetError("Remote asset refused: malformed URL")
    try:
        url = URL(raw)
        if base is not None:
            url = base.join(url)
    except ValueError:
        raise AssetError("Remote asset refused: malformed URL") from None
    check_http_url(url, allow_http=allow_http)
    return url


async def resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Pin:
    """The checked answer for one hop: the only lookup the connector may make."""

    host: str
    addresses: tuple[str, ...]


# Set around each hop's request; a context variable so concurrent fetches cannot see each other's.
PIN: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("asset_pin", default=None)


class PinnedResolver(AbstractResolver):
    """aiohttp resolver that returns the current hop's checked addresses and nothing else."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pin = PIN.get()
        if pin is None or host.rstrip(".") != pin.host.rstrip("."):
            raise OSError("lookup of a host that was not checked")
        results: list[ResolveResult] = [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in pin.addresses
        ]
        # AF_UNSPEC (aiohttp's default) takes every address; a set family filters them.
        return [
            r
            for r in results
            if family not in (socket.AF_INET, socket.AF_INET6) or r["family"] == family
        ]

    async def close(self) -> None:
        return None


def new_session(timeout_s: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(resolver=PinnedResolver(), use_dns_cache=False)
    return aiohttp.ClientSession(
        connector=connector,
        # A backstop only: the caller bounds the whole fetch, redirects included.
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        auto_decompress=False,
        trust_env=False,  # never route through an environment proxy the checks did not see
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"Accept-Encoding": "identity", "User-Agent": "ai-gateway-asset-fetcher"},
    )


class ByteBudget:
    """Bytes fetched for one request, shared by its concurrent fetches (ASSET_MAX_TOTAL_BYTES)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, count: int, host: str | None) -> None:
        self.used += count
        if self.used > self.limit:
            raise AssetError(
                f"Remote assets too large in total (limit {self.limit} bytes per request, "
                "ASSET_MAX_TOTAL_BYTES)",
                host=host,
            )


async def read_capped(
    resp: aiohttp.ClientResponse, max_bytes: int, budget: ByteBudget | None = None
) -> bytes:
    """The body, refused once it is known or seen to exceed `max_bytes` or the budget."""
    host = resp.url.host
    too_large = AssetError(
        f"Remote asset too large (limit {max_bytes} bytes, ASSET_MAX_BYTES)", host=host
    )
    if resp.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        raise AssetError("Remote asset refused: compressed responses are not accepted", host=host)
    size = resp.content_length
    if size is not None and size > max_bytes:
        raise too_large
    if budget is not None and size is not None:
        budget.charge(size, host)  # reserved up front: the body cannot run past Content-Length
    body = bytearray()
    try:
        async for chunk in resp.content.iter_chunked(READ_CHUNK_BYTES):
            body += chunk
            if len(body) > max_bytes:
                raise too_large
            if budget is not None and size is None:
                budget.charge(len(chunk), host)
    except AssetError:
        resp.close()  # drop the connection rather than drain the rest
        raise
    return bytes(body)
