"""The upstream SSE decoder fed the way networks deliver bytes: split anywhere."""

import orjson
import pytest

from app.streams.decoder import COMMENT, SSEDecoder, SSEEvent

STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"choices":[{"delta":{"content":"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c"}}]}\n\n'
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"choices":[],"usage":{"total_tokens":3}}\n\n'
    b"data: [DONE]\n\n"
)


def decode(chunks: list[bytes]) -> list[SSEEvent | object]:
    decoder = SSEDecoder()
    out: list[SSEEvent | object] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.close())
    return out


def expected() -> list[SSEEvent | object]:
    return [
        COMMENT,
        SSEEvent('{"choices":[{"delta":{"content":"héllo 世界"}}]}'),
        COMMENT,
        SSEEvent('{"choices":[],"usage":{"total_tokens":3}}'),
        SSEEvent("[DONE]"),
    ]


def test_whole() -> None:
    assert decode([STREAM]) == expected()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16])
def test_split_everywhere_including_inside_utf8(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode(chunks) == expected()


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_crlf_and_cr_framing_split_between_cr_and_lf(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    assert decode([stream]) == expected()
    # A CR at the end of one read and its LF at the start of the next are one line end.
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == expected()


def test_multi_line_data_event_id_and_unknown_fields() -> None:
    got = decode([b"event: update\nid: 7\nretry: 10\nfoo: bar\ndata: a\ndata:b\ndata\n\n"])
    assert got == [SSEEvent("a\nb\n", event="update", id="7")]


def test_unterminated_event_at_eof_is_dropped() -> None:
    assert decode([b'data: {"x":1}\n']) == []


def test_multi_megabyte_single_event() -> None:
    image = "data:image/png;base64," + "A" * (4 * 1024 * 1024)
    payload = orjson.dumps({"choices": [{"delta": {"images": [{"image_url": {"url": image}}]}}]})
    stream = b"data: " + payload + b"\n\ndata: [DONE]\n\n"
    chunks = [stream[i : i + 16384] for i in range(0, len(stream), 16384)]
    got = decode(chunks)
    assert len(got) == 2
    assert isinstance(got[0], SSEEvent)
    assert (
        orjson.loads(got[0].data)["choices"][0]["delta"]["images"][0]["image_url"]["url"] == image
    )


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_an_event_with_no_data_field_is_dropped_with_its_type(newline: bytes) -> None:
    # The spec: a blank line with an empty data buffer dispatches nothing and resets the type.
    raw = newline.join([b"event: ping", b"id: 7", b"", b"data: x", b"", b""])
    assert SSEDecoder().feed(raw) == [SSEEvent("x", "message", "7")]
