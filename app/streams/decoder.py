"""Incremental Server-Sent Events decoder for upstream streams, per the WHATWG spec.

Bytes go in as they arrive; complete events come out. Lines end in CR, LF or CRLF, and a CR at
the end of one read may pair with an LF at the start of the next. Lines are split as bytes
(terminators are ASCII, so a UTF-8 character split across reads stays whole) and decoded only
once complete. There is no line-length cap: a streamed image is one multi-megabyte line.
Comments (`: OPENROUTER PROCESSING`) come out as `COMMENT` so callers can count keep-alives
without mistaking them for data.
"""

from typing import Final, NamedTuple


class SSEEvent(NamedTuple):
    # A tuple, not a frozen dataclass: one is made per upstream event, and a tuple is made in a
    # third of the time.
    data: str
    event: str = "message"
    id: str | None = None


class _Comment:
    __slots__ = ()


COMMENT: Final = _Comment()


class SSEDecoder:
    __slots__ = ("_parts", "_pending_cr", "_data", "_event", "_id", "_has_field")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._has_field = False  # a `data` field seen in the event being read

    def feed(self, chunk: bytes) -> list[SSEEvent | _Comment]:
        """Consume one read; return the events and comments it completed, in order."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        if b"\n" not in chunk and b"\r" not in chunk:
            # Part of a long line: keep the pieces and join once, not on every read.
            if chunk:
                self._parts.append(chunk)
            return []
        buffer = b"".join((*self._parts, chunk)) if self._parts else chunk
        out: list[SSEEvent | _Comment] = []
        if b"\r" not in buffer:
            # The usual case (LF only): split in C and handle data lines and event ends inline;
            # a call per line was the decoder's main cost.
            lines = buffer.split(b"\n")
            rest = lines.pop()
            for raw in lines:
                if raw.startswith(b"data: "):
                    self._data.append(raw[6:].decode("utf-8", "replace"))
                    self._has_field = True
                elif raw:
                    self._line(raw, out)
                else:
                    self._end_of_event(out)
            self._parts = [rest] if rest else []
            return out
        start = 0
        size = len(buffer)
        while start < size:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, lf if lf != -1 else size)
            if cr != -1:
                end, nxt = cr, cr + 1
                if nxt < size and buffer[nxt] == 0x0A:
                    nxt += 1
                elif nxt == size:
                    self._pending_cr = True
            elif lf != -1:
                end, nxt = lf, lf + 1
            else:
                break
            self._line(buffer[start:end], out)
            start = nxt
        self._parts = [buffer[start:]] if start < size else []
        return out

    def _end_of_event(self, out: list[SSEEvent | _Comment]) -> None:
        """A blank line: dispatch the event, unless it had no `data` field (the spec drops it,
        and forgets its event type)."""
        if self._has_field:
            self._dispatch(out)
        else:
            self._event = ""

    def _dispatch(self, out: list[SSEEvent | _Comment]) -> None:
        data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
        out.append(SSEEvent(data, self._event or "message", self._id))
        self._data, self._event, self._has_field = [], "", False

    def _line(self, raw: bytes, out: list[SSEEvent | _Comment]) -> None:
        if raw.startswith(b"data: "):  # nearly every line: take the short way
            self._data.append(raw[6:].decode("utf-8", "replace"))
            self._has_field = True
            return
        if not raw:
            self._end_of_event(out)
            return
        if raw[0] == 0x3A:  # ":" starts a comment
            out.append(COMMENT)
            return
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_field = True
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields carry nothing the gateway uses.

    def close(self) -> list[SSEEvent | _Comment]:
        """End of stream: per the spec, an event not yet terminated by a blank line is dropped."""
        self._parts = []
        return []
