"""The remote-asset policy on the routes: inlined, or refused before any upstream call.

The gateway runs in-process; the asset server and the upstream are real sockets."""

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.gateways import GatewayFactory

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


LARGE_BYTES = 3 * 1024 * 1024
LARGE_CHUNKS = 12  # sent over about 0.3 s, so a request for many of them takes a while
SERVED: list[str] = []  # the path of every request the asset server received


class AssetHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SERVED.append(self.path)
        if self.path.startswith("/large.png"):
            self._send_large()
            return
        body, kind = (PNG, "image/png") if self.path == "/cat.png" else (b"<html>", "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_large(self) -> None:
        body = PNG + b"\x00" * (LARGE_BYTES - len(PNG))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = len(body) // LARGE_CHUNKS + 1
        try:
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                time.sleep(0.025)
        except ConnectionError:
            pass  # the gateway hung up: its budget was spent, or the request refused

    def log_message(self, *_args: object) -> None:
        """Quiet."""


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, *_args: object) -> None:
        """A client that hangs up mid-body is expected here."""


@pytest.fixture(scope="module")
def asset_server() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), AssetHandler)
    # A short poll: `shutdown()` waits for the loop to notice it (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def inline(gateway_factory: GatewayFactory) -> Iterator[httpx.Client]:
    env = {"ASSET_ALLOW_HTTP": "true", "ASSET_TRUSTED_NETWORKS": "127.0.0.1/32"}
    headers = {"Authorization": f"Bearer {make_token()}"}
    with gateway_factory.inprocess(**env).client(headers=headers) as c:
        yield c


def sent_messages(journal: MockControl) -> list[dict[str, Any]]:
    [entry] = journal.requests()
    messages: list[dict[str, Any]] = orjson.loads(entry["body"])["messages"]
    return messages


def test_legacy_images_are_fetched_and_inlined(
    inline: httpx.Client, journal: MockControl, asset_server: str
) -> None:
    body = {
        "model": "mock/text",
        "messages": [
            {"role": "user", "content": "Look", "images": [{"url": f"{asset_server}/cat.png"}]}
        ],
    }
    assert inline.post("/api/ai/chat/completion", json=body).status_code == 200
    parts = sent_messages(journal)[0]["content"]
    assert parts == [
        {"type": "text", "text": "Look"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        },
    ]


def test_image_generation_and_openai_parts_too(
    inline: httpx.Client, journal: MockControl, asset_server: str
) -> None:
    image = {
        "model": "mock/image",
        "prompt": "A cat",
        "images": [{"url": f"{asset_server}/cat.png"}],
    }
    assert inline.post("/api/ai/image/generation", json=image).status_code == 200
    assert "data:image/png;base64," in journal.requests()[0]["body"]
    journal.clear()
    part = {"type": "image_url", "image_url": {"url": f"{asset_server}/cat.png", "detail": "low"}}
    chat = {"model": "mock/text", "messages": [{"role": "user", "content": [part]}]}
    assert inline.post("/api/v1/chat/completions", json=chat).status_code == 200
    [sent_part] = sent_messages(journal)[0]["content"]
    assert sent_part["image_url"]["detail"] == "low"
    assert sent_part["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.2]/x.png",
        "http://10.0.0.1/x.png",
        "http://2130706434/x.png",
        "file:///etc/passwd",
    ],
)
def test_hostile_urls_refused_before_any_upstream_call(
    inline: httpx.Client, journal: MockControl, url: str
) -> None:
    legacy = {
        "model": "mock/text",
        "messages": [{"role": "user", "content": "x", "images": [{"url": url}]}],
    }
    resp = inline.post("/api/ai/chat/completion", json=legacy)
    assert resp.status_code == 400
    assert resp.json()["error"] == "INVALID_INPUT"
    assert "asset" in resp.json()["message"].lower()
    part = {"type": "file", "file": {"filename": "a.pdf", "file_data": url}}
    v1 = inline.post(
        "/api/v1/chat/completions",
        json={"model": "mock/text", "messages": [{"role": "user", "content": [part]}]},
    )
    assert v1.status_code == 400
    assert v1.json()["error"]["code"] == "asset_refused"
    assert journal.requests() == []


def test_wrong_content_type_refused(
    inline: httpx.Client, journal: MockControl, asset_server: str
) -> None:
    body = {"model": "mock/image", "prompt": "p", "images": [{"url": f"{asset_server}/page.html"}]}
    resp = inline.post("/api/ai/image/generation", json=body)
    assert resp.status_code == 400
    assert "not a png, jpeg, gif or webp image" in resp.json()["message"]
    assert journal.requests() == []


def test_allowlist_passes_listed_hosts_unchanged(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    ok = {
        "model": "mock/text",
        "messages": [{"role": "user", "content": "x", "images": [{"url": "https://ex.com/i.png"}]}],
    }
    assert client.post("/api/ai/chat/completion", json=ok, headers=user_headers).status_code == 200
    assert '"url":"https://ex.com/i.png"' in journal.requests()[0]["body"]
    bad = {
        "model": "mock/text",
        "messages": [
            {"role": "user", "content": "x", "images": [{"url": "https://evil.example/i.png"}]}
        ],
    }
    resp = client.post("/api/ai/chat/completion", json=bad, headers=user_headers)
    assert resp.status_code == 400
    assert "ASSET_POLICY=allowlist" in resp.json()["message"]
    assert len(journal.requests()) == 1


@pytest.mark.parametrize(
    "part",
    [
        {"type": "video_url", "video_url": {"url": "http://169.254.169.254/latest"}},
        {"type": "input_video", "video_url": "http://169.254.169.254/latest"},
        {"type": "image_url", "image_url": "http://169.254.169.254/latest"},
        {"type": "file", "file": {"file_url": "http://169.254.169.254/latest"}},
    ],
    ids=["video_url", "input_video", "image_url string", "file_url"],
)
def test_v1_url_parts_to_metadata_refused(
    inline: httpx.Client, journal: MockControl, part: dict[str, Any]
) -> None:
    assert v1_refusal(inline, journal, part) == (
        "Remote asset refused: http://169.254.169.254/ resolves to a non-public address"
    )


def v1_refusal(inline: httpx.Client, journal: MockControl, part: dict[str, Any]) -> str:
    """The message of the 400 `asset_refused` a chat call with `part` gets; nothing upstream."""
    chat = {"model": "mock/text", "messages": [{"role": "user", "content": [part]}]}
    resp = inline.post("/api/v1/chat/completions", json=chat)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "asset_refused"
    assert journal.requests() == []
    message: str = resp.json()["error"]["message"]
    return message


@pytest.mark.parametrize(
    "part",
    [
        {"type": "Image_URL", "image_url": {"url": "http://169.254.169.254/latest"}},
        {"image_url": {"url": "http://169.254.169.254/latest"}},
        {"type": "input_audio", "input_audio": {"data": "http://169.254.169.254/latest"}},
    ],
    ids=["cased type", "no type", "audio URL"],
)
def test_v1_unknown_part_with_a_url_refused(
    inline: httpx.Client, journal: MockControl, part: dict[str, Any]
) -> None:
    message = v1_refusal(inline, journal, part)
    assert message.startswith("Asset refused: message 1, part 1")
    assert "latest" not in message


def test_legacy_too_many_images_refused_before_any_fetch(
    inline: httpx.Client, journal: MockControl, asset_server: str
) -> None:
    SERVED.clear()
    images = [{"url": f"{asset_server}/cat.png?n={i}"} for i in range(17)]
    body = {"model": "mock/text", "messages": [{"role": "user", "content": "x", "images": images}]}
    resp = inline.post("/api/ai/chat/completion", json=body)
    assert resp.status_code == 400
    assert resp.json() == {
        "error": "INVALID_INPUT",
        "message": "Too many assets in one request: 17 (this gateway allows 16, ASSET_MAX_PARTS)",
        "statusCode": 400,
    }
    assert SERVED == []
    assert journal.requests() == []


def test_healthz_answers_while_a_request_fetches_too_much(
    inline: httpx.Client, journal: MockControl, asset_server: str
) -> None:
    """16 parts of 3 MiB pass ASSET_MAX_TOTAL_BYTES (32 MiB): refused part way, and the
    gateway stays responsive while it fetches."""
    SERVED.clear()
    parts = [
        {"type": "image_url", "image_url": {"url": f"{asset_server}/large.png?n={i}"}}
        for i in range(16)
    ]
    chat = {"model": "mock/text", "messages": [{"role": "user", "content": parts}]}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(inline.post, "/api/v1/chat/completions", json=chat)
        probes: list[float] = []
        while not pending.done():
            started = time.monotonic()
            assert inline.get("/healthz").status_code == 200
            probes.append(time.monotonic() - started)
            time.sleep(0.05)
        resp = pending.result()
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "Remote assets too large in total (limit 33554432 bytes per request, ASSET_MAX_TOTAL_BYTES)"
    )
    assert len(probes) >= 5  # the probes ran while the assets were being fetched
    assert max(probes) < 0.5
    assert len(SERVED) < 16  # stopped at the budget: the last parts were never fetched
    assert journal.requests() == []
