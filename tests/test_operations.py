"""Operating the gateway (issue 14): the metrics after known traffic, the access line and the
request id on every line, the readiness probe's dependencies, and no secret in any of them."""

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.logs import JsonFormatter, RequestIdFilter
from mock_openrouter.process import free_port
from tests.factories import ANON_KEY, API_KEY, JWT_SECRET, UPSTREAM_KEY, make_settings, make_token
from tests.gateways import GatewayFactory
from tests.inprocess import gateway

LEGACY = "/api/ai/chat/completion"
V1 = "/api/v1/chat/completions"
HI = [{"role": "user", "content": "Hi"}]
TOKEN = make_token("metrics-user")
USER = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"x-api-key": API_KEY}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_known_traffic_and_hold_no_secret() -> None:
    async with gateway(make_settings()) as (client, _upstream):
        for _ in range(2):
            ok = await client.post(LEGACY, json={"model": "m", "messages": HI}, headers=USER)
            assert ok.status_code == 200
        stream = {"model": "m", "messages": HI, "stream": True}
        assert (await client.post(V1, json=stream, headers=USER)).status_code == 200
        bad = {"Authorization": f"Bearer {make_token(secret='another-secret-0123456789abcd')}"}
        assert (await client.post(LEGACY, json={"model": "m"}, headers=bad)).status_code == 401
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=USER)).status_code == 403
        answer = await client.get("/metrics", headers=ADMIN)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    found = samples(text)
    legacy = {"surface": "legacy", "route": LEGACY, "status": "200"}
    assert value(found, "aigw_requests_total", model="m-served", **legacy) == 2
    v1 = {"surface": "openai", "route": V1, "status": "200", "model": "m-served"}
    assert value(found, "aigw_requests_total", **v1) == 1
    refused = {"surface": "legacy", "route": LEGACY, "status": "401", "model": "none"}
    assert value(found, "aigw_requests_total", **refused) == 1
    # Three AI calls answered: each has an overhead, the stream a time to first token.
    assert value(found, "aigw_overhead_seconds_count", surface="legacy") == 2
    assert value(found, "aigw_overhead_seconds_count", surface="openai") == 1
    assert value(found, "aigw_overhead_seconds_sum", surface="legacy") > 0
    assert value(found, "aigw_time_to_first_token_seconds_count", surface="openai") == 1
    # tests/inprocess.py: 3 + 2 tokens and $0.00042 per JSON answer, 4 + 1 and $0.0007 streamed.
    tokens = {"surface": "legacy", "model": "m-served"}
    assert value(found, "aigw_tokens_total", kind="prompt", **tokens) == 6
    assert value(found, "aigw_tokens_total", kind="completion", **tokens) == 4
    assert value(found, "aigw_cost_usd_total", **tokens) == pytest.approx(0.00084)
    assert value(found, "aigw_cost_usd_total", surface="openai", model="m-served") == (
        pytest.approx(0.0007)
    )
    assert value(found, "aigw_open_streams") == 0
    for secret in (UPSTREAM_KEY, JWT_SECRET, API_KEY, ANON_KEY, TOKEN, "metrics-user"):
        assert secret not in text


async def test_a_quota_refusal_is_counted_by_its_limit() -> None:
    async with gateway(make_settings(quota_rpm=1)) as (client, _upstream):
        for _ in range(2):
            await client.post(LEGACY, json={"model": "m", "messages": HI}, headers=USER)
        text = (await client.get("/metrics", headers=ADMIN)).text
    assert value(samples(text), "aigw_quota_refusals_total", limit="rpm") == 1


async def test_metrics_off() -> None:
    async with gateway(make_settings(metrics_enabled=False)) as (client, _upstream):
        answer = await client.get("/metrics", headers=ADMIN)
    assert answer.status_code == 404
    assert "METRICS_ENABLED" in answer.json()["nextActions"]


async def test_every_line_of_a_request_carries_its_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    bad = {"Authorization": f"Bearer {make_token(secret='another-secret-0123456789abcd')}"}
    with caplog.at_level(logging.INFO):
        async with gateway(make_settings()) as (client, _upstream):
            refused = await client.post(LEGACY, json={"model": "m"}, headers=bad)
            served = await client.post(
                LEGACY, json={"model": "m", "messages": HI}, headers={**USER, "X-Request-Id": "r-1"}
            )
    ids = {refused.headers["x-request-id"], "r-1"}
    mine = [r for r in caplog.records if getattr(r, "request_id", "-") in ids]
    reason = next(r for r in mine if r.name == "app.auth")
    assert reason.getMessage() == "token refused: bad signature (is JWT_SECRET the backend's?)"
    assert reason.request_id == refused.headers["x-request-id"]  # type: ignore[attr-defined]
    access = [r for r in mine if r.name == "app.access"]
    assert [r.request_id for r in access] == [refused.headers["x-request-id"], "r-1"]  # type: ignore[attr-defined]
    line = JsonFormatter().format(access[1])
    assert served.status_code == 200
    fields = orjson.loads(line)
    assert fields["request_id"] == "r-1"
    assert fields["principal"] == "metrics-user"
    assert (fields["surface"], fields["route"], fields["status"]) == ("legacy", LEGACY, 200)
    assert (fields["model"], fields["prompt_tokens"], fields["completion_tokens"]) == (
        "m-served",
        3,
        2,
    )
    assert fields["cost_usd"] == 0.00042
    assert fields["latency_ms"] >= 0
    every = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in (UPSTREAM_KEY, JWT_SECRET, API_KEY, TOKEN, "Hi"):
        assert secret not in every


async def test_readiness_names_each_dependency(tmp_path: Any) -> None:
    ready = make_settings(ledger_enabled=True, data_dir=str(tmp_path))
    async with gateway(ready) as (client, upstream):
        answer = await client.get("/readyz")
    assert (answer.status_code, answer.json()) == (
        200,
        {"status": "ready", "checks": {"ledger": "ok"}},
    )
    assert upstream.bodies == []  # never the upstream
    away = make_settings(redis_url="redis://127.0.0.1:9/0", quota_rpm=10)
    async with gateway(away) as (client, _upstream):
        answer = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert (answer.status_code, answer.json()) == (
        503,
        {"status": "unready", "checks": {"redis": "unreachable"}},
    )
    assert alive.status_code == 200


@pytest.mark.parametrize("log_prompts", [False, True])
@pytest.mark.parametrize(("path", "stream"), [(LEGACY, False), (LEGACY, True), (V1, True)])
async def test_prompts_and_completions_are_logged_only_when_asked(
    caplog: pytest.LogCaptureFixture, log_prompts: bool, path: str, stream: bool
) -> None:
    secret = [{"role": "user", "content": "Secret plan"}]
    body = {"model": "m", "messages": secret, "stream": stream}
    with caplog.at_level(logging.INFO):
        async with gateway(make_settings(log_prompts=log_prompts)) as (client, _upstream):
            answer = await client.post(path, json=body, headers=USER)
            assert "Hi" in answer.text  # the answer (tests/inprocess.py) says "Hi"
    logged = [r.getMessage() for r in caplog.records if r.name == "app.prompts"]
    if not log_prompts:
        assert logged == []
        assert all("Secret plan" not in r.getMessage() for r in caplog.records)
        return
    prompt, completion = logged
    assert prompt.startswith("prompt: ")
    assert "Secret plan" in prompt
    assert completion == "completion: Hi"


async def test_the_metrics_port_serves_them_without_a_key() -> None:
    port = free_port()
    async with gateway(make_settings(metrics_port=port)) as (client, _upstream):
        await client.post(LEGACY, json={"model": "m", "messages": HI}, headers=USER)
        legacy = {"surface": "legacy", "route": LEGACY, "status": "200", "model": "m-served"}
        async with httpx.AsyncClient() as scraper:
            for _ in range(30):  # the port shows what the last flush (each second) folded in
                answer = await scraper.get(f"http://127.0.0.1:{port}/metrics")
                assert answer.status_code == 200
                if value(samples(answer.text), "aigw_requests_total", **legacy) == 1:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(answer.text)
    async with httpx.AsyncClient() as scraper:
        with pytest.raises(httpx.ConnectError):  # stopped with the app
            await scraper.get(f"http://127.0.0.1:{port}/metrics", timeout=1)


def test_a_json_log_from_the_running_gateway(gateway_factory: GatewayFactory) -> None:
    """LOG_FORMAT=json in a real process: every line is one JSON object (uvicorn's too), and a
    request's lines carry its id."""
    gateway = gateway_factory.own(LOG_FORMAT="json", LOG_LEVEL="info")
    body = {"model": "mock/text", "messages": HI}
    bad = make_token("log-user", secret="another-secret-0123456789abcd")
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        refused = client.post(
            LEGACY, json=body, headers={"Authorization": f"Bearer {bad}", "X-Request-Id": "bad-1"}
        )
        served = client.post(
            LEGACY,
            json=body,
            headers={"Authorization": f"Bearer {make_token('log-user')}", "X-Request-Id": "ok-1"},
        )
    assert (refused.status_code, served.status_code) == (401, 200)
    gateway.stop()
    text = gateway.logs()
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's, as JSON
    by_id: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_id.setdefault(line["request_id"], []).append(line)
    assert [(x["logger"], x["message"]) for x in by_id["bad-1"]][0] == (
        "app.auth",
        "token refused: bad signature (is JWT_SECRET the backend's?)",
    )
    assert by_id["bad-1"][-1]["logger"] == "app.access"
    access = by_id["ok-1"][-1]
    assert access["logger"] == "app.access"
    assert (access["principal"], access["surface"], access["route"], access["status"]) == (
        "log-user",
        "legacy",
        LEGACY,
        200,
    )
    assert access["model"] == "mock/text"
    assert access["prompt_tokens"] > 0
    assert access["completion_tokens"] > 0
    assert access["cost_usd"] > 0
    assert access["latency_ms"] >= access["upstream_ms"] > 0
    for secret in (UPSTREAM_KEY, JWT_SECRET, API_KEY, bad, "Hi"):
        assert secret not in text


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (make_token(expires_in=-10), "expired"),
        (make_token(secret="another-secret-0123456789abcd"), "bad signature (is JWT_SECRET"),
        (make_token(algorithm="HS512"), "wrong algorithm (HS256 expected)"),
        (make_token(sub=None), "missing sub"),
        ("not-a-jwt", "malformed (JWTError)"),
    ],
)
async def test_a_refused_token_logs_its_reason_without_the_token(
    caplog: pytest.LogCaptureFixture, token: str, reason: str
) -> None:
    with caplog.at_level(logging.INFO):
        async with gateway(make_settings()) as (client, _upstream):
            answer = await client.post(
                LEGACY, json={"model": "m"}, headers={"Authorization": f"Bearer {token}"}
            )
    assert answer.status_code == 401
    (line,) = [r.getMessage() for r in caplog.records if r.name == "app.auth"]
    assert line.startswith(f"token refused: {reason}")
    assert token not in caplog.text
