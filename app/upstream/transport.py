"""The upstream HTTP transport: httpx's API on aiohttp's connection pool, lean for one upstream.

A subclass of `httpx-aiohttp`'s transport that replaces only its request method, for a fixed
upstream: headers decoded in one pass, timeouts and URLs made once, and any answer that is not
an event stream read in one call and handed to httpx whole (aiohttp decompresses, so
`Content-Encoding` is dropped from what httpx sees). Connection set-up, pooling, limits and the
mapping of aiohttp's errors to httpx's stay those of httpx-aiohttp, with two additions:
- a failure while reading an answer whose status line has arrived is `AnswerBrokenError`, never
  an error that reads as "could not connect": the request was delivered and is being billed, so
  it must not be sent again (`retry.py`);
- at most `max_keepalive_connections` idle connections are kept (aiohttp's connector has no
  such bound of its own);
- its responses keep their attributes inline whatever was asked first (`LeanResponse`).
Why this transport and what it saves: docs/architecture.md, bench/README.md.
"""

import aiohttp
import httpx
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ConnectionKey
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions
from multidict import CIMultiDict
from yarl import URL

# Distinct URLs are few (one per upstream path, plus the catalog's queries); the bound keeps a
# caller-controlled query from growing the cache.
URL_CACHE_MAX = 64
TimeoutKey = tuple[float | None, float | None, float | None]


# A request extension: stream the answer's body whatever its type (a video download).
STREAM_BODY = "ai_gateway.stream_body"


class AnswerBrokenError(httpx.ReadError):
    """The upstream answered (status line received), then the answer broke off."""


class KeepaliveBoundConnector(aiohttp.TCPConnector):
    """A TCPConnector that closes a released connection instead of pooling it when
    `max_idle` connections are already idle."""

    def __init__(self, *, max_idle: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._max_idle = max_idle

    def _release(
        self,
        key: ConnectionKey,
        protocol: ResponseHandler,
        *,
        should_close: bool = False,
    ) -> None:
        # aiohttp's pool of idle connections (private, stable since 3.0); one upstream host.
        idle = sum(len(conns) for conns in self._conns.values())
        super()._release(key, protocol, should_close=should_close or idle >= self._max_idle)


class LeanResponse(aiohttp.ClientResponse):
    """aiohttp's response, the attributes its `__init__` always sets held in slots.

    CPython 3.11 keeps an instance's attributes inline, without a dict of its own, only while
    its class has used at most ~30 attribute names in all (the class's shared keys, filled in
    the order instances first set them). aiohttp's response sets 29 across GET (sent at once),
    POST (a writer task) and answers whose content type is read, so whichever kind came first
    decided which others got a dict built for them on every call: after a first GET (the model
    catalog, which the quotas fetch before the first call) every chat call's response did, about
    10,000 instructions more (bench/README.md, the quota stage). In slots, these eight are out
    of that count, and the rest fit in any order (tests/test_transport.py)."""

    __slots__ = (
        "method",
        "_real_url",
        "_url",
        "_request_info",
        "_timer",
        "_cache",
        "_traces",
        "_loop",
    )


class LeanAiohttpTransport(AiohttpTransport):
    response_class: type[aiohttp.ClientResponse] = LeanResponse

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._urls: dict[str, URL] = {}
        self._timeouts: dict[TimeoutKey, aiohttp.ClientTimeout] = {}

    def get_client(self) -> aiohttp.ClientSession:
        limits = self.limits
        connector = KeepaliveBoundConnector(
            max_idle=(
                limits.max_keepalive_connections
                if limits.max_keepalive_connections is not None
                else 2**31
            ),
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, response_class=self.response_class)

    def _url(self, request: httpx.Request) -> URL:
        text = str(request.url)
        url = self._urls.get(text)
        if url is None:
            url = URL(text, encoded=True)
            if len(self._urls) < URL_CACHE_MAX:
                self._urls[text] = url
        return url

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        given = request.extensions.get("timeout", {})
        key = (given.get("connect"), given.get("read"), given.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        headers: CIMultiDict[str] = CIMultiDict(
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw
        )
        try:
            content = request.content or None
        except httpx.RequestNotRead:
            return await super().handle_async_request(request)
        with map_aiohttp_exceptions():
            response = await self.client.request(
                request.method,
                self._url(request),
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=False,
                timeout=self._timeout(request),
            ).__aenter__()
        raw_headers = response.raw_headers
        if response.headers.get("Content-Encoding"):
            raw_headers = tuple(h for h in raw_headers if h[0].lower() != b"content-encoding")
        # Events, and a large body its caller reads as it comes (`open_download`): streamed.
        if response.content_type == "text/event-stream" or request.extensions.get(STREAM_BODY):
            return httpx.Response(
                response.status,
                headers=raw_headers,
                stream=AiohttpResponseStream(response),
                request=request,
            )
        try:
            with map_aiohttp_exceptions():
                body = await response.read()
        except httpx.TransportError as err:
            raise AnswerBrokenError(str(err), request=request) from err
        finally:
            response.release()
        return httpx.Response(response.status, headers=raw_headers, content=body, request=request)
