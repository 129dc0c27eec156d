"""The one policy every asset URL in a request (image, file and video URLs) goes through.

ASSET_POLICY=inline (default) fetches http(s) assets here and sends OpenRouter a data: URL, so
no caller-chosen URL reaches the upstream; `allowlist` passes URLs of listed hosts unchanged;
`reject` accepts data: URLs only. The SSRF-safe fetch primitives live in fetch.py.

Deliberate choices:
- The https-only and no-credentials rules apply in allowlist mode too: ASSET_ALLOW_HTTP reads
  as "http asset URLs are acceptable", whoever fetches them.
- `*.example.com` in OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS matches subdomains, not
  `example.com` itself (list both to allow both), as certificate wildcards do.
- A data: URL must have a media type and, when marked base64, valid padded base64; its media
  type is not checked against the kind (that is the model's concern, as the legacy API had it).
- Fetched bytes must sniff as the kind asks (sniff.py): a png/jpeg/gif/webp image, a
  PDF, or an mp4/QuickTime/webm/Matroska video.
- Which URLs of a request are assets, and how many of them are fetched at once and in total,
  is parts.py's concern; `resolve` polices one URL, charging an optional ByteBudget.
- Refusals are logged at INFO with the host and the caller's message, which shows at most
  scheme, host and port: paths and query strings may carry tokens.
"""

import asyncio
import base64
import ipaddress
import logging
import re

import aiohttp
from yarl import URL

from app.assets.fetch import (
    PIN,
    REDIRECT_STATUSES,
    WEB_PORTS,
    AssetError,
    AssetKind,
    ByteBudget,
    HostResolver,
    IPAddress,
    IPNetwork,
    Pin,
    check_http_url,
    is_public,
    new_session,
    origin,
    parse_http_url,
    parse_ipv4_host,
    read_capped,
    resolve_with_getaddrinfo,
)
from app.assets.sniff import ACCEPT, sniffed_mime
from app.config import Settings

__all__ = ["AssetError", "AssetKind", "AssetResolver", "ByteBudget"]

logger = logging.getLogger(__name__)

_DATA_URL_HEAD = re.compile(
    r"data:[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+"
    r"(?:;[a-z0-9!#$&^_.+-]+=[a-z0-9!#$&^_.+%-]+)*(?P<b64>;base64)?,",
    re.IGNORECASE,
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_PAYLOAD = re.compile(r"[^\x00-\x20\x7f]+")  # percent-encoded text: no raw spaces or controls
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")


def check_data_url(url: str) -> None:
    head = _DATA_URL_HEAD.match(url)
    start = head.end() if head else len(url)  # payloads run to megabytes: match in place
    if head and head["b64"]:
        # Unpadded base64 passes (the legacy contract forwards `;base64,AAA`); 4n+1 never decodes.
        payload = _BASE64 if (len(url) - start) % 4 != 1 else None
    else:
        payload = _URL_PAYLOAD
    if start == len(url) or payload is None or payload.fullmatch(url, start) is None:
        raise AssetError("Malformed data: URL (expected data:<mime>[;base64],<payload>)")


def host_allowed(host: str, entries: list[str]) -> bool:
    host = host.rstrip(".")
    for entry in entries:
        entry = entry.strip().lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif entry and host == entry:
            return True
    return False


class AssetResolver:
    """Applies ASSET_POLICY to asset URLs; one lazily created aiohttp session per resolver."""

    def __init__(self, settings: Settings, *, resolve_host: HostResolver | None = None) -> None:
        self._settings = settings
        self._resolve_host = resolve_host or resolve_with_getaddrinfo
        # strict=False: "10.1.2.3/8" plainly means the /8, so accept it rather than fail start-up.
        self._trusted: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in settings.asset_trusted_networks
        )
        self._session: aiohttp.ClientSession | None = None

    async def resolve(self, url: str, kind: AssetKind, budget: ByteBudget | None = None) -> str:
        """The URL to send upstream: unchanged (data:, or allowlisted), or a data: URL of the
        fetched bytes, which are charged to `budget`. Raises AssetError."""
        try:
            return await self._resolve(url, kind, budget)
        except AssetError as err:
            # The message shows at most scheme, host and port; never the path or query.
            logger.info(
                "asset refused: host=%s policy=%s: %s",
                err.host or "-",
                self._settings.asset_policy,
                err.message,
            )
            raise

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _resolve(self, url: str, kind: AssetKind, budget: ByteBudget | None) -> str:
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme == "data":
            check_data_url(url)
            return url
        if scheme not in ("http", "https"):
            shown = f"'{scheme}'" if _SCHEME.fullmatch(scheme) else "of this URL"
            raise AssetError(
                f"Asset URL refused: scheme {shown} is not supported (use https or a data: URL)"
            )
        if self._settings.asset_policy == "reject":
            raise AssetError(
                "Remote asset URLs are not accepted (ASSET_POLICY=reject); "
                "send the content as a data: URL"
            )
        parsed = parse_http_url(url, allow_http=self._settings.asset_allow_http)
        if self._settings.asset_policy == "allowlist":
            host = parsed.raw_host or ""
            if not host_allowed(host, self._settings.openrouter_allowed_remote_asset_hosts):
                raise AssetError(
                    f"Remote asset host '{host}' is not allowed (ASSET_POLICY=allowlist; "
                    "see OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS)",
                    host=host,
                )
            return url
        return await self._fetch(parsed, kind, budget)

    async def _fetch(self, url: URL, kind: AssetKind, budget: ByteBudget | None) -> str:
        limit_s = self._settings.asset_fetch_timeout_s
        try:
            async with asyncio.timeout(limit_s):
                body, declared = await self._follow(url, kind, budget)
        except TimeoutError:
            raise AssetError(
                f"Remote asset fetch timed out (limit {limit_s:g} s, ASSET_FETCH_TIMEOUT_S)",
                host=url.raw_host,
            ) from None
        mime = sniffed_mime(body, kind, declared, url.raw_host)
        return f"data:{mime};base64,{base64.b64encode(body).decode('ascii')}"

    async def _follow(
        self, url: URL, kind: AssetKind, budget: ByteBudget | None
    ) -> tuple[bytes, str | None]:
        """GET the URL, following up to ASSET_MAX_REDIRECTS hops, each checked from scratch."""
        if self._session is None:
            self._session = new_session(self._settings.asset_fetch_timeout_s)
        for _hop in range(self._settings.asset_max_redirects + 1):
            target, pin = await self._check_target(url)
            token = PIN.set(pin)
            try:
                async with self._session.get(
                    target, allow_redirects=False, headers={"Accept": ACCEPT[kind]}
                ) as resp:
                    if resp.status in REDIRECT_STATUSES and "Location" in resp.headers:
                        url = parse_http_url(
                            resp.headers["Location"],
                            allow_http=self._settings.asset_allow_http,
                            base=url,
                        )
                        continue
                    if not 200 <= resp.status < 300:
                        raise AssetError(
                            f"Remote asset fetch failed: HTTP {resp.status} from {origin(url)}",
                            host=url.raw_host,
                        )
                    body = await read_capped(resp, self._settings.asset_max_bytes, budget)
                    return body, resp.headers.get("Content-Type")
            except (aiohttp.ClientError, OSError, ValueError):
                raise AssetError(
                    f"Remote asset fetch failed: could not fetch {origin(url)}", host=url.raw_host
                ) from None
            finally:
                PIN.reset(token)
        raise AssetError(
            "Remote asset refused: too many redirects "
            f"(limit {self._settings.asset_max_redirects}, ASSET_MAX_REDIRECTS)",
            host=url.raw_host,
        )

    async def _check_target(self, url: URL) -> tuple[URL, Pin | None]:
        """Resolve once and check every address; returns what to request and the pin for it."""
        host = check_http_url(url, allow_http=self._settings.asset_allow_http)
        port = url.port or 443
        try:
            literal: IPAddress | None = (
                ipaddress.IPv6Address(host) if ":" in host else parse_ipv4_host(host)
            )
        except ValueError:
            raise AssetError("Remote asset refused: malformed URL", host=host) from None
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            addresses = await self._lookup(host, port)
        if not all(self._trusted_address(a) or is_public(a) for a in addresses):
            raise AssetError(
                f"Remote asset refused: {origin(url)} resolves to a non-public address", host=host
            )
        if port not in WEB_PORTS and not all(self._trusted_address(a) for a in addresses):
            raise AssetError(
                f"Remote asset refused: port {port} is not allowed (only 80 and 443)", host=host
            )
        if literal is not None:
            # Request the canonical spelling so nothing downstream re-reads "0x7f.1" or "127.1".
            return url.with_host(str(literal)), None
        return url, Pin(host, tuple(str(a) for a in addresses))

    async def _lookup(self, host: str, port: int) -> list[IPAddress]:
        try:
            answers = await self._resolve_host(host, port)
            # An IPv6 zone ("%eth0") does not change which address it is.
            addresses = [ipaddress.ip_address(a.partition("%")[0]) for a in answers]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise AssetError(f"Remote asset refused: could not resolve host '{host}'", host=host)
        return addresses

    def _trusted_address(self, addr: IPAddress) -> bool:
        mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
        return any(addr in net or (mapped is not None and mapped in net) for net in self._trusted)
