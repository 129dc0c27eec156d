"""The one upstream client per process, and the non-streaming call with bounded retries.

`build_transport` is the single place that picks the HTTP transport; the benchmark in
`bench/transport.py` decides which. Failures leave here as `UpstreamFailure`, neutral about the
surface; each surface maps them once (`app/upstream_errors.py` for the legacy routes).
The key only ever appears in the upstream `Authorization` header.
"""

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from app.config import Settings
from app.redact import redact_secret
from app.transport import AnswerBrokenError
from app.upstream_slots import PoolBusyError, UpstreamSlots

log = logging.getLogger("app.upstream")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522, 524, 529})
USER_AGENT = "ai-gateway/0.1"
# What a caller refused for want of a free upstream connection is told to wait.
BUSY_RETRY_AFTER_S = "1"

Json = dict[str, Any]


class UpstreamFailure(Exception):
    """What went wrong upstream, before any surface decides how to show it."""

    def __init__(
        self,
        kind: str,
        *,
        status: int | None = None,
        payload: object = None,
        text: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"upstream {kind} {status or ''}".strip())
        # "status" | "inband" | "timeout" | "connect" | "invalid" | "broken" (the answer broke
        # off after its status line) | "busy" (no free upstream connection in time)
        self.kind = kind
        self.status = status
        self.payload = payload
        self.text = text
        self.headers = dict(headers or {})


def build_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
    )
    if settings.upstream_transport == "aiohttp":
        from app.transport import LeanAiohttpTransport

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


def _is_connect_failure(err: httpx.TransportError) -> bool:
    # httpx-aiohttp maps every aiohttp ClientConnectionError (a server that hung up, too) to
    # ConnectTimeout; only a real timeout underneath is a timeout.
    if isinstance(err, httpx.ConnectTimeout) and err.__cause__ is not None:
        return not isinstance(err.__cause__, TimeoutError)
    return not isinstance(err, httpx.TimeoutException)


def _retry_delay(resp: httpx.Response, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before the next try, or None when waiting would exceed the cap."""
    cap = settings.upstream_retry_after_cap_s
    hint = resp.headers.get("retry-after")
    delay: float | None = None
    if hint is not None:
        try:
            delay = float(hint)
        except ValueError:
            try:
                delay = parsedate_to_datetime(hint).timestamp() - time.time()
            except (TypeError, ValueError):
                delay = None
    reset = resp.headers.get("x-ratelimit-reset")
    if delay is None and reset is not None and reset.isdigit():
        # OpenRouter sends epoch milliseconds; a daily cap resets hours away and is not retried.
        delay = int(reset) / 1000 - time.time()
    if delay is None:
        delay = _backoff(attempt, settings)
    return max(delay, 0.0) if delay <= cap else None


def _parse(content: bytes) -> object:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


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
        self.slots = UpstreamSlots(
            settings.upstream_max_connections, settings.upstream_pool_timeout_s
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
                await self._acquire()
                try:
                    resp = await self._send(path, orjson.dumps(body), stream=False)
                finally:
                    self.slots.release()
        except TimeoutError as err:
            raise UpstreamFailure("timeout") from err
        payload = _parse(resp.content)
        if resp.status_code >= 300 or not isinstance(payload, dict) or payload.get("error"):
            raise _failure(resp, payload, self._secret)
        return payload, resp.content.lstrip(), resp.headers

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Json:
        """One GET (catalog reads: their callers serve a cached copy rather than retry)."""
        try:
            async with asyncio.timeout(self.settings.upstream_total_timeout_s):
                await self._acquire()
                try:
                    resp = await self.client.get(path, params=params)
                finally:
                    self.slots.release()
        except TimeoutError as err:
            raise UpstreamFailure("timeout") from err
        except httpx.TransportError as err:
            kind = "connect" if _is_connect_failure(err) else "timeout"
            raise UpstreamFailure(kind) from err
        payload = _parse(resp.content)
        if resp.status_code >= 300 or not isinstance(payload, dict) or payload.get("error"):
            raise _failure(resp, payload, self._secret)
        return payload

    async def open_stream(self, path: str, body: Json) -> httpx.Response:
        """POST a streaming request; return the response once it is a 200 event stream.

        Failures before the stream starts (statuses, JSON error bodies) are retried like
        `send_json` and then raised; the caller owns the returned response and must close it.
        """
        # orjson's bytes keep a 4 KB buffer whatever their length; a stream holds its request for
        # its whole life, so it gets a right-sized copy (4 KB less per open stream).
        content = memoryview(orjson.dumps(body)).tobytes()
        await self._acquire()
        try:
            resp = await self._send(path, content, stream=True)
        except BaseException:
            self.slots.release()
            raise
        content_type = resp.headers.get("content-type", "")
        if resp.status_code == 200 and content_type.startswith("text/event-stream"):
            self.slots.hold_until_closed(resp)
            return resp
        try:
            await resp.aread()
        except httpx.TransportError as err:
            raise UpstreamFailure("broken") from err
        finally:
            try:
                await resp.aclose()
            finally:
                self.slots.release()
        payload = _parse(resp.content)
        raise _failure(resp, payload, self._secret)

    @property
    def pool_timeouts(self) -> int:
        """Calls refused because no upstream connection became free in time."""
        return self.slots.timeouts

    async def _acquire(self) -> None:
        try:
            await self.slots.acquire()
        except PoolBusyError:
            log.warning("no free upstream connection within %ss", self.slots.wait_s)
            raise UpstreamFailure("busy", headers={"retry-after": BUSY_RETRY_AFTER_S}) from None

    async def _send(self, path: str, content: bytes, *, stream: bool) -> httpx.Response:
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
                if not _is_connect_failure(err):
                    raise UpstreamFailure("timeout") from err
                if last:
                    raise UpstreamFailure("connect") from err
                log.warning("upstream connection failed (%s); retrying", type(err).__name__)
                await asyncio.sleep(_backoff(attempt, self.settings))
                continue
            if not stream:
                try:
                    await resp.aread()
                except httpx.TransportError as err:
                    # Answered, then broken off: billed upstream, never sent again.
                    raise UpstreamFailure("broken") from err
            if resp.status_code not in RETRY_STATUSES or last:
                return resp
            delay = _retry_delay(resp, attempt, self.settings)
            if delay is None:
                return resp
            if stream:
                await resp.aclose()
            log.warning("upstream answered %s; retrying in %.2fs", resp.status_code, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def _failure(resp: httpx.Response, payload: object, secret: str) -> UpstreamFailure:
    if resp.status_code >= 300:
        return UpstreamFailure(
            "status",
            status=resp.status_code,
            payload=payload,
            # Redacted before the cut: a cut inside the key would leave a part no one can match.
            text=redact_secret(resp.text, secret)[:2000],
            headers=resp.headers,
        )
    if isinstance(payload, dict) and payload.get("error"):
        # OpenRouter commits 200 before the provider answers; a late failure is in the body.
        return UpstreamFailure("inband", payload=payload, headers=resp.headers)
    return UpstreamFailure("invalid", status=resp.status_code)


def check_choices(answer: Json) -> None:
    """A chat answer with no choice, or whose choice failed, is a failure despite its 200."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamFailure("invalid", status=200)
    first = choices[0]
    if first.get("finish_reason") == "error" or first.get("error"):
        error = first.get("error") or {"message": "Provider returned error", "code": 502}
        raise UpstreamFailure("inband", payload={"error": error})


def _backoff(attempt: int, settings: Settings) -> float:
    return settings.upstream_retry_base_s * 2.0**attempt * random.uniform(0.5, 1.0)
