"""The one upstream client per process, and the non-streaming call with bounded retries.

`build_transport` is the single place that picks the HTTP transport; the benchmark in
`bench/transport.py` decides which. Failures leave here as `UpstreamFailure`
(`app/upstream/failures.py`), neutral about the surface and free of the key, which only ever
appears in the upstream `Authorization` header. When a call may be sent again: `retry.py`.
"""

import asyncio
import logging
import time
from typing import NoReturn

import httpx
import orjson

from app.access import Access, access_var
from app.config import Settings
from app.json_shape import Json
from app.upstream.failures import Kind, UpstreamFailure, failure_of, parse
from app.upstream.retry import RETRY_STATUSES, backoff, is_connect_failure, retry_delay
from app.upstream.slots import PoolBusyError, UpstreamSlots
from app.upstream.transport import STREAM_BODY, AnswerBrokenError

log = logging.getLogger("app.upstream.client")

USER_AGENT = "ai-gateway/0.1"
# What a caller refused for want of a free upstream connection is told to wait.
BUSY_RETRY_AFTER_S = "1"


def build_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
    )
    if settings.upstream_transport == "aiohttp":
        from app.upstream.transport import LeanAiohttpTransport

        return LeanAiohttpTransport(limits=limits, trust_env=False)
    return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)


def _timeout(settings: Settings) -> httpx.Timeout:
    # `pool` only bounds what the transport itself may wait for a connection beyond ours:
    # calls wait for a free connection in UpstreamSlots, under UPSTREAM_POOL_TIMEOUT_S.
    return httpx.Timeout(
        connect=settings.upstream_connect_timeout_s,
        read=settings.upstream_read_timeout_s,
        write=settings.upstream_read_timeout_s,
        pool=settings.upstream_connect_timeout_s,
    )


def _headers(settings: Settings) -> dict[str, str]:
    # The key appears here and nowhere else: only ever in the upstream Authorization header.
    return {
        "Authorization": f"Bearer {settings.openrouter_api_key.get_secret_value()}",
        "HTTP-Referer": settings.openrouter_site_url,
        "X-OpenRouter-Title": settings.openrouter_app_name,
        "X-Title": settings.openrouter_app_name,
        "User-Agent": USER_AGENT,
    }


def build_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.openrouter_base_url.rstrip("/") + "/",
        transport=transport or build_transport(settings),
        timeout=_timeout(settings),
        headers=_headers(settings),
        follow_redirects=False,
        trust_env=False,
    )


class UpstreamClient:
    """Upstream calls. The POSTs on the hot path go straight to the client's transport.

    `AsyncClient.send` costs about as much CPU as the rest of a request (URL merging, cookie
    extraction, auth and redirect hooks), none of which a fixed upstream needs; requests are
    built here from pre-parsed URLs and headers instead (bench/README.md has the profile).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        transport: httpx.AsyncBaseTransport,
    ) -> None:
        self.client = client
        self.settings = settings
        self._transport = transport
        self._base = settings.openrouter_base_url.rstrip("/") + "/"
        self._urls: dict[str, httpx.URL] = {}
        # Built once: httpx normalises a plain dict on every request, a Headers copy is cheap.
        host = httpx.URL(self._base).netloc.decode("ascii")
        common = {**_headers(settings), "Host": host, "Content-Type": "application/json"}
        self._json_headers = httpx.Headers(
            {**common, "Accept": "application/json", "Accept-Encoding": "gzip"}
        )
        self._stream_headers = httpx.Headers(
            {**common, "Accept": "text/event-stream", "Accept-Encoding": "identity"}
        )
        self._timeout = _timeout(settings).as_dict()
        self._secret = settings.openrouter_api_key.get_secret_value()
        self.retries = 0  # calls sent again (the metrics read it)
        self.slots = UpstreamSlots(
            settings.upstream_max_connections,
            settings.upstream_pool_timeout_s,
            settings.upstream_fair_share,
        )
        # A stream's reads are bounded by its StreamClock (first event, idle, lifetime), which
        # the callers wrap around opening it too; the transport's own read timer would be a
        # second timer per open stream, rescheduled on every read.
        self._stream_timeout = {**self._timeout, "read": None}

    def _request(self, path: str, content: bytes, *, stream: bool) -> httpx.Request:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base + path)
        # `stream=` rather than `content=`: httpx then skips `_prepare`, which rebuilds every
        # header (a new tuple and a lower-cased copy of each name) on each request, and which a
        # stream would hold for its whole life. Content-Length is the one header it would add.
        request = httpx.Request(
            "POST",
            url,
            headers=self._stream_headers if stream else self._json_headers,
            stream=httpx.ByteStream(content),
            extensions={"timeout": self._stream_timeout if stream else self._timeout},
        )
        request.headers["Content-Length"] = str(len(content))
        request.read()
        return request

    async def send_json(
        self, path: str, body: Json, *, timeout_s: float | None = None
    ) -> tuple[Json, httpx.Headers]:
        """POST `body`, retrying 408/429/5xx and connection failures; return the parsed answer."""
        payload, _content, headers = await self.send(path, body, timeout_s=timeout_s)
        return payload, headers

    async def send(
        self, path: str, body: Json, *, timeout_s: float | None = None
    ) -> tuple[Json, bytes, httpx.Headers]:
        """`send_json`, also returning the answer's bytes (keep-alive whitespace stripped)."""
        try:
            async with asyncio.timeout(timeout_s or self.settings.upstream_total_timeout_s):
                caller = await self._acquire()
                try:
                    resp = await self._send(path, orjson.dumps(body), stream=False)
                finally:
                    self.slots.release(caller)
        except TimeoutError as err:
            raise UpstreamFailure("timeout") from err
        payload = parse(resp.content)
        if resp.status_code >= 300 or not isinstance(payload, dict) or payload.get("error"):
            raise failure_of(resp, payload, self._secret)
        return payload, resp.content.lstrip(), resp.headers

    async def get_json(
        self, path: str, params: dict[str, str] | None = None, *, inband_errors: bool = True
    ) -> Json:
        """One GET (catalog reads: their callers serve a cached copy rather than retry). With
        `inband_errors` off, a 200 answer's `error` field is data, not a failure: a failed video
        job's poll says why in it."""
        try:
            async with asyncio.timeout(self.settings.upstream_total_timeout_s):
                caller = await self._acquire()
                try:
                    resp = await self.client.get(path, params=params)
                finally:
                    self.slots.release(caller)
        except TimeoutError as err:
            raise UpstreamFailure("timeout") from err
        except httpx.TransportError as err:
            kind: Kind = "connect" if is_connect_failure(err) else "timeout"
            raise UpstreamFailure(kind) from err
        payload = parse(resp.content)
        if resp.status_code >= 300 or not isinstance(payload, dict):
            raise failure_of(resp, payload, self._secret)
        if inband_errors and payload.get("error"):
            raise failure_of(resp, payload, self._secret)
        return payload

    async def open_stream(self, path: str, body: Json) -> httpx.Response:
        """POST a streaming request; return the response once it is a 200 event stream.

        Failures before the stream starts (statuses, JSON error bodies) are retried like
        `send_json` and then raised; the caller owns the returned response and must close it.
        """
        # orjson's bytes keep a 4 KB buffer whatever their length; a stream holds its request for
        # its whole life, so it gets a right-sized copy (4 KB less per open stream).
        content = memoryview(orjson.dumps(body)).tobytes()
        caller = await self._acquire()
        try:
            resp = await self._send(path, content, stream=True)
        except BaseException:
            self.slots.release(caller)
            raise
        content_type = resp.headers.get("content-type", "")
        if resp.status_code == 200 and content_type.startswith("text/event-stream"):
            self.slots.hold_until_closed(resp, caller)
            return resp
        await self._refuse(resp, caller)

    async def open_download(self, path: str, params: dict[str, str]) -> httpx.Response:
        """GET a large answer (a video's bytes) as a stream, never retried; the caller owns the
        response and must close it, which frees its upstream slot. An error status is raised as
        an `UpstreamFailure`, its body read (bounded by the answer) and the slot freed."""
        caller = await self._acquire()
        try:
            request = self.client.build_request(
                "GET",
                path,
                params=params,
                # As it is stored: a length that is the bytes' own, and nothing to decode here.
                headers={"Accept-Encoding": "identity"},
                extensions={STREAM_BODY: True},
            )
            resp = await self.client.send(request, stream=True)
        except httpx.TransportError as err:
            self.slots.release(caller)
            kind: Kind = "connect" if is_connect_failure(err) else "timeout"
            raise UpstreamFailure(kind) from err
        except BaseException:
            self.slots.release(caller)
            raise
        if resp.status_code < 300:
            self.slots.hold_until_closed(resp, caller)
            return resp
        await self._refuse(resp, caller)

    async def _refuse(self, resp: httpx.Response, caller: str) -> NoReturn:
        """A streamed answer that is a refusal: read it whole, close it, free its slot, and
        raise it as an `UpstreamFailure`."""
        try:
            await resp.aread()
        except httpx.TransportError as err:
            raise UpstreamFailure("broken") from err
        finally:
            try:
                await resp.aclose()
            finally:
                self.slots.release(caller)
        raise failure_of(resp, parse(resp.content), self._secret)

    @property
    def pool_timeouts(self) -> int:
        """Calls refused because no upstream connection became free in time."""
        return self.slots.timeouts

    async def _acquire(self) -> str:
        """A slot for the request's caller (its access record: app/access.py, "" outside a
        request); returns the caller, who releases it."""
        access = access_var.get()
        caller = access.principal or "" if access is not None else ""
        try:
            await self.slots.acquire(caller)
        except PoolBusyError:
            if self.slots.held(caller) >= self.slots.fair_share:
                log.warning(
                    "no upstream connection within %ss for a caller holding %d (UPSTREAM_FAIR_SHARE"
                    " is %d)",
                    self.slots.wait_s,
                    self.slots.held(caller),
                    self.slots.fair_share,
                )
            else:
                log.warning("no free upstream connection within %ss", self.slots.wait_s)
            raise UpstreamFailure("busy", headers={"retry-after": BUSY_RETRY_AFTER_S}) from None
        return caller

    async def _send(self, path: str, content: bytes, *, stream: bool) -> httpx.Response:
        """`_attempts`, timed for the request's access record: waiting on the upstream is not
        the gateway's overhead (app/access.py)."""
        access = access_var.get()
        started = time.monotonic()
        try:
            return await self._attempts(path, content, stream=stream, access=access)
        finally:
            if access is not None:
                access.upstream_s += time.monotonic() - started

    async def _attempts(
        self, path: str, content: bytes, *, stream: bool, access: Access | None
    ) -> httpx.Response:
        attempts = self.settings.upstream_max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            request = self._request(path, content, stream=stream)
            try:
                resp = await self._transport.handle_async_request(request)
            except AnswerBrokenError as err:
                raise UpstreamFailure("broken") from err
            except httpx.TransportError as err:
                # No status line yet: nothing was answered, so the request may go again.
                if not is_connect_failure(err):
                    raise UpstreamFailure("timeout") from err
                if last:
                    raise UpstreamFailure("connect") from err
                log.warning("upstream connection failed (%s); retrying", type(err).__name__)
                self._retried(access)
                await asyncio.sleep(backoff(attempt, self.settings))
                continue
            if not stream:
                try:
                    await resp.aread()
                except httpx.TransportError as err:
                    # Answered, then broken off: billed upstream, never sent again.
                    raise UpstreamFailure("broken") from err
            if resp.status_code not in RETRY_STATUSES or last:
                return resp
            delay = retry_delay(resp, attempt, self.settings)
            if delay is None:
                return resp
            if stream:
                await resp.aclose()
            log.warning("upstream answered %s; retrying in %.2fs", resp.status_code, delay)
            self._retried(access)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _retried(self, access: Access | None) -> None:
        self.retries += 1
        if access is not None:
            access.retries += 1
