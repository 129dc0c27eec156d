"""Primitives of the SSRF-safe fetch (ASSET_POLICY=inline); AssetResolver in assets.py runs it.

The choices below hold for the fetch as a whole. AssetError is defined here and re-exported by
assets.py, so this module imports nothing back.

Deliberate choices:
- One URL parser: yarl, the one aiohttp uses. The URL object that was checked is the one that
  is requested, so no second parser can read the host differently. Whitespace, control
  characters and backslashes are refused outright, as other parsers disagree about them.
- Numeric hosts are read here with inet_aton/WHATWG rules (`2130706433`, `0177.0.0.1`,
  `0x7f.1`, `127.1`) and the request goes to the canonical spelling of the address checked,
  so neither the OS nor aiohttp reads the number again.
- DNS is resolved once per hop and every address must be public or inside
  ASSET_TRUSTED_NETWORKS. The connector's resolver answers only from the pin set for the
  current hop (a context variable), so aiohttp makes no lookup of its own and SNI and Host
  keep the hostname. aiohttp's DNS cache is off; pooled keep-alive connections are keyed by
  host and port and were all opened to addresses checked by these same rules.
- Ports other than 80 and 443 need every address to be trusted: an internal asset server
  may listen anywhere, the public internet is reached on web ports only.
- IPv6 that embeds IPv4 (mapped, compatible, NAT64 64:ff9b::/96, 6to4, Teredo) is judged by
  the embedded addresses. Local-use NAT64 (64:ff9b:1::/48) is refused outright: where it
  embeds the address depends on a local prefix length. Other public IPv6 is 2000::/3 minus
  the special blocks in it. Python's `is_global` is consulted as well, but not trusted alone:
  3.11 calls multicast global.
- Bodies are not decompressed (`Accept-Encoding: identity`; an encoded reply is refused), so
  ASSET_MAX_BYTES counts the bytes received and no compression bomb is ever inflated.
- No cookie jar: one session serves every caller, and cookies must not pass between them.
- The fetches of one request share a ByteBudget (ASSET_MAX_TOTAL_BYTES), charged from
  Content-Length before reading or chunk by chunk as bytes arrive, so a request is refused
  while its assets are read, not after they are all held.
"""

import asyncio
import contextvars
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HostResolver = Callable[[str, int], Awaitable[list[str]]]
AssetKind = Literal["image", "file", "video"]

WEB_PORTS = frozenset({80, 443})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
READ_CHUNK_BYTES = 64 * 1024

_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HOSTNAME = re.compile(r"[a-z0-9_.-]+")  # yarl lowercases hosts and IDNA-encodes non-ASCII
_NUMBER_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

# IANA special-purpose blocks; 0/8 holds the unspecified address, 169.254/16 cloud metadata,
# 192.88.99/24 the 6to4 relays, 198.18/15 benchmarking, 240/4 the broadcast address.
_NON_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in (
        *("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"),
        *("172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16"),
        *("198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"),
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NON_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(cidr) for cidr in ("2001::/23", "2001:db8::/32", "3fff::/20")
)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_LOW32_EMBEDDING = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"))


class AssetError(Exception):
    """Refused or failed asset; `.message` is safe to show the caller (no internals)."""

    message: str
    host: str | None  # for the log line only

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host


def _embedded_v4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    if addr.ipv4_mapped is not None:
        return (addr.ipv4_mapped,)
    if any(addr in net for net in _LOW32_EMBEDDING):
        return (ipaddress.IPv4Address(int(addr) & 0xFFFF_FFFF),)
    if addr.sixtofour is not None:
        return (addr.sixtofour,)
    if addr.teredo is not None:
        return addr.teredo  # traffic may reach either the server or the client address
    return ()


def is_public(addr: IPAddress) -> bool:
    """Whether the address is globally routable unicast, judging embedded IPv4 by itself."""
    if isinstance(addr, ipaddress.IPv4Address):
        return not any(addr in net for net in _NON_PUBLIC_V4) and addr.is_global
    if addr in _NAT64_LOCAL:
        return False
    embedded = _embedded_v4(addr)
    if embedded:
        return all(is_public(v4) for v4 in embedded)
    return (
        addr in _GLOBAL_UNICAST_V6
        and not any(addr in net for net in _NON_PUBLIC_V6)
        and addr.is_global
    )


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """The address a numeric host denotes (WHATWG/inet_aton), None for a DNS name.

    Raises ValueError for a host that ends in a number but is no valid address ("1.2.3.999").
    """
    parts = host.split(".")
    if len(parts) > 1 and not parts[-1]:
        parts.pop()  # one trailing dot, as in a fully qualified name
    if not _NUMBER_LABEL.fullmatch(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMBER_LABEL.fullmatch(part) for part in parts):
        raise ValueError(host)
    numbers = [_parse_number(part) for part in parts]
    last = numbers.pop()
    if any(n > 255 for n in numbers) or last >= 256 ** (4 - len(numbers)):
        raise ValueError(host)
    return ipaddress.IPv4Address(sum(n << (24 - 8 * i) for i, n in enumerate(numbers)) + last)


def _parse_number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part)


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
