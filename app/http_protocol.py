"""uvicorn's httptools protocol, bounded against callers who never finish a request.

Stock uvicorn (httptools) has no header size limit, no deadline for headers or body and no cap on
open connections: a security review held 3,000 idle sockets and 2,000 half-sent bodies open for
minutes, and a 128 MB header was parsed for 31 s while `/healthz` waited. This subclass adds
MAX_HEADER_BYTES (431), HEADER_READ_TIMEOUT_S (408), BODY_READ_TIMEOUT_S (408) and
MAX_CONNECTIONS (503), answered in the legacy envelope with `Connection: close`, then closed.

Deliberate choices:
- Header bytes are counted as they arrive, in `data_received` (a copy of uvicorn's, so that a 431
  is told from a parse error): httptools gathers a whole header value before `on_header`, so
  counting there would read a 128 MB value first. A read is fed first and refused only if the
  headers are still incomplete, so body bytes in the read that ends the headers never count;
  headers that come whole in one read are measured when complete. httptools thus holds at most
  the limit plus one read.
- Timers (`loop.call_later`), no task per connection. The header timer runs from connection open,
  or from the end of a response, until the next headers are complete, and never while a request
  is being answered: a long SSE stream on a keep-alive connection is not cut. The body timer is
  armed only when a read leaves the headers complete and the body not, so a request that arrives
  in one read costs no timer.
- A connection whose header time runs out before it sent a byte of a request is closed without an
  answer: it is idle, and a client about to reuse it could take an unsolicited 408 for the answer
  to its next request. One that sent part of a request gets 408.
- A bound never adds a second answer to a request already answered or being answered: the
  connection is closed after that answer instead.
- No lingering close: a client still sending after the refusal may get a reset instead of it,
  which only a flooding client meets. Refusals are logged at debug level: under the attack these
  bounds exist for, a line per refused connection would be the next flood.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.config import Settings
from app.errors import GatewayError, legacy_body

log = logging.getLogger("app.http")

HEADERS_TOO_LARGE = GatewayError(
    "The request line and headers are larger than the gateway accepts.",
    status_code=431,
    code="REQUEST_HEADERS_TOO_LARGE",
)
HEADERS_TIMEOUT = GatewayError(
    "The request headers were not received in time.", status_code=408, code="REQUEST_TIMEOUT"
)
BODY_TIMEOUT = GatewayError(
    "The request body was not received in time.", status_code=408, code="REQUEST_TIMEOUT"
)
TOO_MANY_CONNECTIONS = GatewayError(
    "The AI gateway has too many open connections; please retry shortly.",
    status_code=503,
    code="AI_GATEWAY_BUSY",
    next_actions="Retry after the Retry-After delay.",
    headers={"Retry-After": "1"},
)


class HeadersTooLargeError(Exception):
    """Raised in a parser callback to stop the parser; answered 431."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 32 * 1024
    header_read_timeout_s: float = 10.0
    body_read_timeout_s: float = 60.0
    max_connections: int = 10_000


def refusal_bytes(err: GatewayError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 response for `err`, written straight to the transport."""
    body = legacy_body(err)
    lines = [STATUS_LINE[err.status_code]]
    headers = [
        *default_headers,
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.headers.items()),
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    lines.extend(name + b": " + value + b"\r\n" for name, value in headers)
    return b"".join(lines) + b"\r\n" + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the four bounds of `limits` (see the module docstring)."""

    limits: ClassVar[HttpLimits] = HttpLimits()

    _header_bytes = 0  # received since the last headers or message completed
    _awaiting_headers = True  # the parser is between requests or inside headers
    _request_begun = False  # a byte of the next request was parsed
    _body_pending = False  # headers complete, body not yet
    _headers_too_large = False
    _header_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.connections.discard(self)
            self._refuse(TOO_MANY_CONNECTIONS)
        else:
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_timer = _cancel(self._header_timer)
        self._body_timer = _cancel(self._body_timer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own data_received, plus the header count, the 431 and the body timer.
        if self.transport.is_closing():
            return  # refused or closing: what the client still sends is not parsed
        self._unset_keepalive_if_required()
        if self._awaiting_headers:
            self._header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._headers_too_large:
                self._refuse(HEADERS_TOO_LARGE)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        if self.transport.is_closing():
            return
        if self._awaiting_headers and self._header_bytes > self.limits.max_header_bytes:
            self._refuse(HEADERS_TOO_LARGE)
        elif self._body_pending and self._body_timer is None:
            timeout_s = self.limits.body_read_timeout_s
            self._body_timer = self.loop.call_later(timeout_s, self._on_body_timeout)

    def on_message_begin(self) -> None:
        self._request_begun = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        # Headers that arrived whole in one read were never counted incomplete; measure them.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._headers_too_large = True
            raise HeadersTooLargeError  # stops the parser; data_received answers 431
        self._awaiting_headers = self._request_begun = False
        self._header_bytes = 0
        self._body_pending = True
        self._header_timer = _cancel(self._header_timer)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self._body_pending = False
        self._body_timer = _cancel(self._body_timer)
        super().on_message_complete()
        self._arm_header_timer()  # if the app answered before the body ended

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()

    def handle_websocket_upgrade(self) -> None:
        # The connection now belongs to the WebSocket protocol and its own timeouts.
        self._awaiting_headers = self._body_pending = False
        self._header_timer = _cancel(self._header_timer)
        self._body_timer = _cancel(self._body_timer)
        super().handle_websocket_upgrade()

    def _arm_header_timer(self) -> None:
        """Start the header clock if the connection waits for headers and answers nothing."""
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._awaiting_headers and not answering and not self.transport.is_closing():
            _cancel(self._header_timer)
            timeout_s = self.limits.header_read_timeout_s
            self._header_timer = self.loop.call_later(timeout_s, self._on_header_timeout)

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return  # closed by something else; connection_lost is on its way
        if self._request_begun:
            self._refuse(HEADERS_TIMEOUT)
        else:
            self.transport.close()  # idle: nothing to answer

    def _on_body_timeout(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing():
            return
        if self.pipeline:
            # Reading is paused behind an earlier response, so this body cannot arrive yet.
            timeout_s = self.limits.body_read_timeout_s
            self._body_timer = self.loop.call_later(timeout_s, self._on_body_timeout)
        elif not cycle.response_started:
            # The 408 answers this request; the app sees a disconnect and adds no answer.
            cycle.disconnected = True
            cycle.message_event.set()
            self._refuse(BODY_TIMEOUT)
        elif cycle.response_complete:
            self.transport.close()  # answered already; a 408 now would answer nothing
        else:
            cycle.keep_alive = False  # close once the answer under way is sent

    def _refuse(self, err: GatewayError) -> None:
        """Answer `err` and close, or only close if an earlier request still awaits its answer
        (a pipelined request's headers were too large)."""
        log.debug("refused a connection from %s with %d", self.client, err.status_code)
        cycle = self.cycle
        if cycle is None or cycle.response_complete or cycle.disconnected:
            self.transport.write(refusal_bytes(err, self.server_state.default_headers))
        self.transport.close()


def _cancel(timer: asyncio.TimerHandle | None) -> asyncio.TimerHandle | None:
    """Cancel `timer` if set; returns None, to store in its place."""
    if timer is not None:
        timer.cancel()
    return None


def bounded_protocol(settings: Settings) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`. uvicorn instantiates it with fixed
    arguments, so the limits travel as a class attribute."""
    bound = HttpLimits(
        settings.max_header_bytes,
        settings.header_read_timeout_s,
        settings.body_read_timeout_s,
        settings.max_connections,
    )

    class SettingsBoundProtocol(BoundedHttpToolsProtocol):
        limits = bound

    return SettingsBoundProtocol
