"""The remote-asset policy on the routes: inlined, or refused before any upstream call."""

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest

from mock_openrouter.process import MockProcess
from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.procs import GatewayProcess

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class AssetHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = (PNG, "image/png") if self.path == "/cat.png" else (b"<html>", "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def asset_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AssetHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def inline_gateway(mock: MockProcess) -> Iterator[GatewayProcess]:
    env = {"ASSET_ALLOW_HTTP": "true", "ASSET_TRUSTED_NETWORKS": "127.0.0.1/32"}
    with GatewayProcess(mock.base_url, **env) as process:
        yield process


@pytest.fixture
def inline(inline_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {make_token()}"}
    with httpx.Client(base_url=inline_gateway.url, headers=headers, timeout=10) as c:
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
