"""The mock's other routes (embeddings, model lists, generation, key), control plane and process."""

from __future__ import annotations

import base64
import json
import math
import signal
import struct
import time
from collections.abc import Iterator

import httpx
import pytest

from mock_openrouter import MockProcess, start_mock
from mock_openrouter.testing import MockControl, data_payloads

AUTH = {"Authorization": "Bearer sk-or-v1-test"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=7) as proc:
        yield proc


@pytest.fixture
def client(mock: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.base_url, headers=AUTH, timeout=10) as c:
        yield c


def embed(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post("/embeddings", json={"model": "openai/text-embedding-3-small", **body})


def test_embeddings_float_and_base64_agree(client: httpx.Client) -> None:
    floats = embed(client, input=["a", "b"], encoding_format="float").json()
    packed = embed(client, input=["a", "b"], encoding_format="base64").json()
    assert floats["id"].startswith("gen-emb-")
    assert floats["model"] == "text-embedding-3-small"
    assert floats["usage"]["prompt_tokens"] == 4
    assert floats["provider"]
    for as_float, as_b64 in zip(floats["data"], packed["data"], strict=True):
        vector = as_float["embedding"]
        assert len(vector) == 8
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
        raw = base64.b64decode(as_b64["embedding"])
        assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == vector
    assert floats["data"][0]["embedding"] != floats["data"][1]["embedding"]
    again = embed(client, input="a", encoding_format="float").json()
    assert again["data"][0]["embedding"] == floats["data"][0]["embedding"]


def test_embeddings_dimensions_and_empty_variants(client: httpx.Client) -> None:
    assert len(embed(client, input="x", dimensions=4).json()["data"][0]["embedding"]) == 4
    tokens = embed(client, input=[1, 2, 3])
    assert tokens.status_code == 200
    assert tokens.json()["data"] == []
    empty = client.post(
        "/embeddings",
        json={"model": "openai/text-embedding-3-small", "input": "x"},
        headers={"X-Mock-Scenario": "embeddings_empty"},
    )
    assert empty.json()["data"] == []
    failed = embed(client, input="x", model="mock/error?status=429")
    assert failed.status_code == 429


def test_models_filter(client: httpx.Client) -> None:
    default = client.get("/models").json()
    ids = {m["id"] for m in default["data"]}
    assert "mock/text" in ids
    assert "black-forest-labs/flux.2-pro" not in ids
    assert "openai/text-embedding-3-small" not in ids
    assert default["total_count"] == len(default["data"])
    everything = {m["id"] for m in client.get("/models?output_modalities=all").json()["data"]}
    assert {"black-forest-labs/flux.2-pro", "openai/text-embedding-3-small"} <= everything
    images = {m["id"] for m in client.get("/models?output_modalities=image").json()["data"]}
    assert "mock/text" not in images
    count = client.get("/models/count").json()["data"]["count"]
    assert count == len(ids)
    embedding_ids = {m["id"] for m in client.get("/embeddings/models").json()["data"]}
    assert embedding_ids == {m for m in everything if "embedding" in m}
    assert httpx.get(client.base_url.join("models")).status_code == 200  # public, no key
    assert httpx.get(client.base_url.join("models/user")).status_code == 401


def test_journal_records_body_and_headers(client: httpx.Client, control: MockControl) -> None:
    raw = '{"model":"mock/text","messages":[{"role":"user","content":"Hi"}],"stream":false}'
    client.post(
        "/chat/completions",
        content=raw,
        headers={"Content-Type": "application/json", "X-Title": "InsForge"},
    )
    (entry,) = control.requests()
    assert entry["method"] == "POST"
    assert entry["path"] == "/api/v1/chat/completions"
    assert entry["body"] == raw
    assert entry["json"] == json.loads(raw)
    assert entry["headers"]["x-title"] == "InsForge"
    assert entry["headers"]["authorization"] == "Bearer sk-or-v1-test"
    assert entry["status"] == 200
    assert entry["ended"] == "completed"
    assert entry["billed_tokens"] == 20
    assert entry["arrived_at"] <= entry["first_byte_at"] <= entry["last_byte_at"]
    assert entry["bytes_sent"] > 0
    control.clear()
    assert control.requests() == []


def test_generation_and_key(client: httpx.Client, control: MockControl) -> None:
    response = client.post("/chat/completions", json={"model": "mock/text", "stream": True})
    gen_id = response.headers["x-generation-id"]
    generation = client.get("/generation", params={"id": gen_id}).json()["data"]
    assert generation["id"] == gen_id
    assert generation["streamed"] is True
    assert generation["cancelled"] is False
    assert generation["total_cost"] > 0
    assert client.get("/generation", params={"id": "gen-0-missing"}).status_code == 404
    key = client.get("/key").json()["data"]
    assert key["usage"] == pytest.approx(generation["total_cost"])
    assert key["limit"] is None
    control.config(generation_lag_ms=10_000)
    later = client.post("/chat/completions", json={"model": "mock/text"})
    assert (
        client.get("/generation", params={"id": later.headers["x-generation-id"]}).status_code
        == 404
    )


def test_config_seed_makes_variants_repeatable(client: httpx.Client, control: MockControl) -> None:
    def run() -> list[bytes]:
        control.reset()
        control.config(seed=42)
        body = {"model": "mock/text", "stream": True}
        return [client.post("/chat/completions", json=body).content for _ in range(3)]

    first, second = run(), run()
    # Ids and ``created`` embed the clock, so compare each event's keys, not its bytes.
    assert [_shape(p) for p in first] == [_shape(p) for p in second]
    assert control.config(ttft_ms=1)["ttft_ms"] == 1
    bad = control.client.post("/__mock/config", json={"nope": 1})
    assert bad.status_code == 400


def _shape(body: bytes) -> list[str]:
    return [p if p == "[DONE]" else ",".join(sorted(json.loads(p))) for p in data_payloads(body)]


def test_stats_count_requests(client: httpx.Client, control: MockControl) -> None:
    client.get("/models")
    client.post("/chat/completions", json={"model": "mock/text"})
    # The mock counts a request completed after its last write, which the client may read first.
    deadline = time.monotonic() + 2
    while (stats := control.stats())["completed"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stats["requests"] == 2
    assert stats["by_path"]["/api/v1/models"] == 1
    assert stats["completed"] == 2
    assert stats["bench"] is False


def test_bench_mode_fast_path() -> None:
    with (
        start_mock(seed=3, bench=True) as bench,
        httpx.Client(base_url=bench.base_url, headers=AUTH) as c,
    ):
        ctl = MockControl(bench.root_url)
        stream = c.post("/chat/completions", json={"model": "mock/text", "stream": True})
        payloads = data_payloads(stream.content)
        assert payloads[-1] == "[DONE]"
        deltas = [json.loads(p) for p in payloads[:-1]]
        assert sum(1 for d in deltas if d["choices"] and d["choices"][0]["delta"]["content"]) == 20
        again = c.post("/chat/completions", json={"model": "mock/text", "stream": True})
        assert again.content == stream.content
        text = c.post("/chat/completions", json={"model": "gpt", "stream": False})
        assert json.loads(text.text)["choices"][0]["message"]["content"] == "Hello there!"
        tool = c.post("/chat/completions", json={"model": "mock/tool"})
        assert json.loads(tool.text)["choices"][0]["finish_reason"] == "tool_calls"
        stats = ctl.stats()
        assert (stats["requests"], stats["bench"]) == (4, True)
        assert ctl.requests() == []
        ctl.close()


def test_sigterm_stops_cleanly() -> None:
    proc = start_mock()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(5) == 0
    proc.stop()


def test_embeddings_transcript_form_via_queue(client: httpx.Client, control: MockControl) -> None:
    control.enqueue(
        [{"scenario": "embeddings", "vector": "0.5,1,-0.25", "echo_model": True}],
        path="/api/v1/embeddings",
    )
    body = embed(client, input=["a", "b"], encoding_format="float").json()
    assert body["model"] == "openai/text-embedding-3-small"
    assert [d["embedding"] for d in body["data"]] == [[0.5, 1.0, -0.25]] * 2
    assert control.requests()[-1]["scenario_source"] == "queue"
