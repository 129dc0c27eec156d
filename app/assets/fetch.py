"""The fetch loop of ASSET_POLICY=inline: GET an asset URL, each redirect hop checked from
scratch, every address it resolves to checked before it is connected to, the bytes capped and
sniffed, and a data: URL made of them.

- DNS is resolved once per hop and every address must be public (addresses.py) or inside
  ASSET_TRUSTED_NETWORKS; the connection goes to exactly the addresses checked (network.py's
  pinned resolver), so a second lookup cannot answer differently.
- Ports other than 80 and 443 need every address to be trusted: an internal asset server may
  listen anywhere, the public internet is reached on web ports only.
- The whole fetch, redirects included, is bounded by ASSET_FETCH_TIMEOUT_S.
"""

import asyncio
import base64
import ipaddress

import aiohttp
from yarl import URL

from app.assets.addresses import IPAddress, IPNetwork, is_public, parse_ipv4_host
from app.assets.network import (
    PIN,
    AssetError,
    AssetKind,
    ByteBudget,
    HostResolver,
    Pin,
    check_http_url,
    new_session,
    origin,
    parse_http_url,
    read_capped,
    resolve_with_getaddrinfo,
)
from app.assets.sniff import ACCEPT, sniffed_mime
from app.config import Settings

WEB_PORTS = frozenset({80, 443})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Fetcher:
    """One lazily created aiohttp session, shared by every fetch of a resolver."""

    def __init__(self, settings: Settings, resolve_host: HostResolver | None = None) -> None:
        self._settings = settings
        self._resolve_host = resolve_host or resolve_with_getaddrinfo
        # strict=False: "10.1.2.3/8" plainly means the /8, so accept it rather than fail start-up.
        self._trusted: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in settings.asset_trusted_networks
        )
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: URL, kind: AssetKind, budget: ByteBudget | None) -> str:
        """A data: URL of the asset's bytes, charged to `budget`. Raises AssetError."""
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
            target, pin = await self.check_target(url)
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

    async def check_target(self, url: URL) -> tuple[URL, Pin | None]:
        """Resolve once and check every address; returns what to request and the pin for it.
        The JWKS fetch applies it to a redirect off its configured host (app/jwks_fetch.py)."""
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
