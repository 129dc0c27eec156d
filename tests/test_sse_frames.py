"""Downstream frames are built as bytes (app/streams/response.py); each must decode, with the
spec's decoder, to exactly what went in."""

import orjson
import pytest

from app.streams.decoder import SSEDecoder, SSEEvent
from app.streams.response import json_frame, text_frame


def decoded(frame: bytes) -> list[object]:
    return list(SSEDecoder().feed(frame))


def test_json_frame_is_one_data_line_even_with_line_breaks_inside_strings() -> None:
    obj = {"chunk": "two\nlines\r\nand a CR\r, 世界"}
    frame = json_frame(obj)
    assert frame == b"data: " + orjson.dumps(obj) + b"\n\n"
    assert frame.count(b"\n") == 2
    assert b"\r" not in frame
    [event] = decoded(frame)
    assert isinstance(event, SSEEvent)
    assert orjson.loads(event.data) == obj


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("[DONE]", b"data: [DONE]\n\n"),
        ("a\nb", b"data: a\ndata: b\n\n"),
        ("a\r\nb\rc", b"data: a\ndata: b\ndata: c\n\n"),
        ("", b"data: \n\n"),
    ],
)
def test_text_frame_splits_lines_per_the_spec(text: str, wire: bytes) -> None:
    assert text_frame(text) == wire
    [event] = decoded(wire)
    assert isinstance(event, SSEEvent)
    assert event.data == text.replace("\r\n", "\n").replace("\r", "\n")
