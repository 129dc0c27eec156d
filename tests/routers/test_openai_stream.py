"""`/api/v1` streams: pass-through in order, honest ends and deadlines (the gateway in-process),
and a caller's disconnect (a gateway process, on a raw socket)."""

import socket
import time

import httpx
import orjson
import pytest

from mock_openrouter.testing import MockControl, data_payloads, sse_blocks
from tests.factories import make_token
from tests.gateways import GatewayFactory, InProcessGateway
from tests.journal import wait_upstream_closed
from tests.procs import GatewayProcess, open_raw_stream

PATH = "/api/v1/chat/completions"
HI = [{"role": "user", "content": "Hi"}]


def stream(client: httpx.Client, model: str) -> httpx.Response:
    body = {"model": model, "messages": HI, "stream": True}
    return client.post(PATH, json=body, headers={"Authorization": f"Bearer {make_token()}"})


def test_events_pass_through_and_end_with_done(client: httpx.Client) -> None:
    resp = stream(client, "mock/text?comment_prob=1&usage_form=U1")
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.headers["x-generation-id"].startswith("gen-")
    blocks = sse_blocks(resp.content)
    assert all(not b.comments for b in blocks)  # upstream keep-alives are not forwarded
    payloads = data_payloads(resp.content)
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        == "Hello!"
    )
    assert chunks[-1]["usage"]["total_tokens"] == 20
    assert len({c["id"] for c in chunks}) == 1


@pytest.mark.parametrize(
    ("model", "code"),
    [
        ("mock/drop?after=2", "stream_failed"),
        ("mock/malformed", "stream_failed"),
        ("mock/midstream_error?shape=C&after=1&code=server_error", "server_error"),
    ],
)
def test_failures_are_one_error_chunk_without_done(
    client: httpx.Client, model: str, code: str
) -> None:
    payloads = data_payloads(stream(client, model).content)
    assert "[DONE]" not in payloads
    last = orjson.loads(payloads[-1])
    assert last["error"]["code"] == code
    assert sum(1 for p in payloads if '"error"' in p) == 1


def test_pre_stream_failure_is_a_real_status(client: httpx.Client) -> None:
    resp = stream(client, "mock/error?status=402")
    assert resp.status_code == 402
    assert resp.json()["error"]["type"] == "insufficient_quota"


@pytest.fixture
def tight_gateway(gateway_factory: GatewayFactory) -> InProcessGateway:
    return gateway_factory.inprocess(STREAM_FIRST_EVENT_TIMEOUT_S="1", MAX_REQUEST_BYTES="2000")


def test_first_event_deadline(tight_gateway: InProcessGateway, journal: MockControl) -> None:
    with tight_gateway.client() as c:
        payloads = data_payloads(
            stream(c, "mock/keepalive_only?seconds=5&keepalive_ms=100").content
        )
    assert [orjson.loads(p)["error"]["message"] for p in payloads] == [
        "Failed to stream response: no data from the AI provider within 1 s"
    ]
    assert wait_upstream_closed(journal)["ended"] == "client_disconnect"


def test_openai_envelope_for_bad_input(tight_gateway: InProcessGateway) -> None:
    headers = {"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"}
    with tight_gateway.client(headers=headers) as c:
        too_big = c.post(
            PATH,
            content=orjson.dumps(
                {"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}
            ),
        )
        bad_json = c.post(PATH, content=b'{"model":')
        no_messages = c.post(PATH, content=b'{"model":"m","messages":[]}')
        unknown = c.get("/api/v1/nothing")
    assert too_big.status_code == 413
    assert too_big.json()["error"]["type"] == "invalid_request_error"
    assert bad_json.json()["error"] == {
        "message": "The request body is not valid JSON.",
        "type": "invalid_request_error",
        "code": "invalid_json",
    }
    assert no_messages.status_code == 400
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("moment", ["before_first_token", "after_first_token"])
def test_disconnect_closes_upstream_within_100ms(
    gateway: GatewayProcess, journal: MockControl, moment: str
) -> None:
    model = (
        "mock/text?ttft_ms=3000&tokens=50"
        if moment == "before_first_token"
        else "mock/text?tokens=100&tpot_ms=100"
    )
    body = orjson.dumps({"model": model, "messages": HI, "stream": True})
    sock: socket.socket = open_raw_stream(gateway, PATH, body, make_token())
    received = b""
    if moment == "before_first_token":
        while b"200 OK" not in received:
            received += sock.recv(65536)
    else:
        while b'"content":"' not in received.split(b"\r\n\r\n", 1)[-1]:
            received += sock.recv(65536)
    closed_at = time.time()
    sock.close()
    entry = wait_upstream_closed(journal)
    assert entry["ended"] == "client_disconnect"
    assert entry["disconnect_at"] - closed_at < 0.1
