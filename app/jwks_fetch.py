"""The JWKS fetch (JWT_JWKS_URL): one GET over httpx, under the SSRF rules of remote assets.

How "the JWKS fetch obeys the same SSRF rules as assets unless its host is configured
explicitly" is read here: JWT_JWKS_URL is set by the operator, so its host is configured
explicitly and is fetched wherever it resolves (an identity provider inside the cluster, or on
loopback, is common). A redirect that stays on that host stays trusted, unless it goes from
https to http. A redirect to any other host is checked exactly as an asset URL is
(`Fetcher.check_target` of app/assets/fetch.py: https unless ASSET_ALLOW_HTTP, every address
public or inside ASSET_TRUSTED_NETWORKS, ports 80 and 443 only), and the connection goes to the
address that was checked, Host and SNI keeping the name. Nothing in a token (`jku`, `x5u`,
`jwk`) ever names a URL to fetch or a key to use.

- The whole fetch, redirects included, is bounded by FETCH_TIMEOUT_S, and the body by
  MAX_JWKS_BYTES (counted as decoded, so a compressed body cannot inflate past it).
- No environment proxy (`trust_env=False`, as the asset fetcher) and no kept-alive
  connections: a fetch every few minutes gains nothing from them, and a pooled connection to
  a checked address must not serve another host.
- Failures are `JwksFetchError`, whose message is safe to log: at most the URL's origin.
"""

import asyncio
import contextlib

import httpx
import orjson

from app.assets.fetch import Fetcher
from app.assets.network import AssetError, parse_http_url
from app.config import Settings

FETCH_TIMEOUT_S = 5.0
MAX_REDIRECTS = 3
MAX_JWKS_BYTES = 512 * 1024  # a JWKS of a few keys is a few KB
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class JwksFetchError(Exception):
    """The JWKS could not be fetched; the message names no path or query."""


def origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}/"


class JwksFetcher:
    """GETs JWT_JWKS_URL with a client of its own (closed by `aclose`)."""

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if settings.jwt_jwks_url is None:
            raise ValueError("JWT_JWKS_URL is not set")
        self.url = httpx.URL(settings.jwt_jwks_url)
        self._allow_http = settings.asset_allow_http
        self._assets = Fetcher(settings)  # for its address checks only: they open no session
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=FETCH_TIMEOUT_S,
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            trust_env=False,
            headers={
                "Accept": "application/jwk-set+json, application/json",
                "User-Agent": "ai-gateway-jwks",
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self) -> object:
        """The JWKS document as parsed JSON. Raises JwksFetchError."""
        url = self.url
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                for _hop in range(MAX_REDIRECTS + 1):
                    response = await self._send(url)
                    try:
                        location = response.headers.get("location")
                        if response.status_code in REDIRECT_STATUSES and location:
                            url = url.join(location)
                            continue
                        if response.status_code != 200:
                            raise JwksFetchError(f"HTTP {response.status_code} from {origin(url)}")
                        return orjson.loads(await _read_capped(response))
                    finally:
                        await response.aclose()
        except TimeoutError:
            raise JwksFetchError(
                f"no answer from {origin(url)} within {FETCH_TIMEOUT_S:g} s"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise JwksFetchError(f"could not fetch {origin(url)} ({type(err).__name__})") from None
        except orjson.JSONDecodeError:
            raise JwksFetchError(f"{origin(url)} did not answer JSON") from None
        raise JwksFetchError(f"more than {MAX_REDIRECTS} redirects from {origin(self.url)}")

    async def _send(self, url: httpx.URL) -> httpx.Response:
        """One hop's GET: as is on the configured host; elsewhere checked, then sent to the
        addresses that were checked, in turn until one connects."""
        if url.host == self.url.host and url.scheme in (self.url.scheme, "https"):
            return await self._client.send(self._client.build_request("GET", url), stream=True)
        try:
            checked = parse_http_url(str(url), allow_http=self._allow_http)
            target, pin = await self._assets.check_target(checked)
        except AssetError as err:
            raise JwksFetchError(f"redirect to {origin(url)} refused: {err.message}") from None
        if pin is None:  # an address literal, checked and spelled canonically
            request = self._client.build_request("GET", str(target))
            return await self._client.send(request, stream=True)
        for address in pin.addresses[:-1]:
            with contextlib.suppress(httpx.ConnectError):
                return await self._client.send(self._pinned(url, address), stream=True)
        return await self._client.send(self._pinned(url, pin.addresses[-1]), stream=True)

    def _pinned(self, url: httpx.URL, address: str) -> httpx.Request:
        return self._client.build_request(
            "GET",
            url.copy_with(host=address),
            headers={"Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.host},
        )


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_JWKS_BYTES:
            raise JwksFetchError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
    return bytes(body)
