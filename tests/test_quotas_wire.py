"""Quotas across processes: two gateway processes against one Redis (127.0.0.1:6379) and the
mock OpenRouter share one spend budget and one limit on calls in flight."""

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from redis import Redis

from app.policy import prompt_chars
from app.quotas.need import tokens_of
from mock_openrouter.catalog import MOCK_PRICING
from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess

REDIS_URL = "redis://127.0.0.1:6379/0"
LEGACY = "/api/ai/chat/completion"
CALL = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}], "maxTokens": 100}
# The same call slow to answer, so that none settles while the burst is being admitted: under
# the whole suite on a slow machine, 2.5 s was not enough (52 of 200 were served, not 50).
BURST = {**CALL, "model": "mock/text?ttft_ms=6000"}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user)}"}


def pair(factory: GatewayFactory, **env: str) -> list[GatewayProcess]:
    return [factory.own(REDIS_URL=REDIS_URL, **env) for _ in range(2)]


@pytest.fixture
def redis() -> Iterator[Redis]:
    client: Redis = Redis.from_url(REDIS_URL)
    yield client
    client.close()


def one_call_usd(gateway_factory: GatewayFactory, journal: MockControl) -> float:
    """The worst case the gateway reserves for CALL (and BURST, the same but for its model's
    query): its upstream body (as the mock received it, from a gateway without limits) through
    the gateway's own estimate, at the mock's prices."""
    plain = gateway_factory()
    answer = httpx.post(f"{plain.url}{LEGACY}", json=CALL, headers=bearer("probe"), timeout=30)
    assert answer.status_code == 200
    sent = next(r for r in reversed(journal.requests()) if r["path"].endswith("/chat/completions"))
    prompt, completion = tokens_of(sent["json"], 16384, prompt_chars(sent["json"]))
    return prompt * float(MOCK_PRICING[0]) + completion * float(MOCK_PRICING[1])


async def test_two_processes_admit_exactly_the_budget(
    gateway_factory: GatewayFactory, journal: MockControl, redis: Redis
) -> None:
    worst = one_call_usd(gateway_factory, journal)
    budget = 50.5 * worst  # 50 calls' worst cases fit, the 51st does not
    gateways = pair(gateway_factory, QUOTA_USD_PER_DAY=repr(budget))
    user = f"budget-{uuid.uuid4().hex[:8]}"
    limits = httpx.Limits(max_connections=300)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for gateway in gateways:  # each loads the model catalog (the prices) before the burst
            answer = await client.post(f"{gateway.url}{LEGACY}", json=CALL, headers=bearer("warm"))
            assert answer.status_code == 200
        journal.clear()
        answers = await asyncio.gather(
            *(
                client.post(f"{gateways[n % 2].url}{LEGACY}", json=BURST, headers=bearer(user))
                for n in range(200)
            )
        )
    statuses = [a.status_code for a in answers]
    assert (statuses.count(200), statuses.count(429)) == (50, 150)
    # Both processes served some of the 50.
    served = {n % 2 for n, a in enumerate(answers) if a.status_code == 200}
    assert served == {0, 1}
    chats = [r for r in journal.requests() if r["path"].endswith("/chat/completions")]
    assert len(chats) == 50  # no refused call went upstream
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["error"] == "AI_SPEND_LIMIT"
    account = redis.hgetall(f"aigw:q:{{{user}}}:account")
    for _ in range(50):  # the settlements are written just after the answers
        if float(account.get(b"held_usd", b"1")) < 1e-12:
            break
        await asyncio.sleep(0.1)
        account = redis.hgetall(f"aigw:q:{{{user}}}:account")
    spent = float(account[b"day_usd"])
    assert 0 < spent <= budget
    assert float(account[b"held_usd"]) == pytest.approx(0, abs=1e-12)


async def test_calls_in_flight_are_limited_across_processes(
    gateway_factory: GatewayFactory,
) -> None:
    first, second = pair(gateway_factory, QUOTA_CONCURRENT_STREAMS="3")
    user = f"streams-{uuid.uuid4().hex[:8]}"
    stream = {**CALL, "stream": True, "model": "mock/text?ttft_ms=5000"}
    async with httpx.AsyncClient(timeout=30) as client:
        opened = []
        for _ in range(3):
            request = client.build_request(
                "POST", f"{first.url}{LEGACY}", json=stream, headers=bearer(user)
            )
            response = await client.send(request, stream=True)
            assert response.status_code == 200
            opened.append(response)
        refused = await client.post(f"{second.url}{LEGACY}", json=stream, headers=bearer(user))
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/json")
        assert refused.json()["error"] == "AI_CONCURRENCY_LIMIT"
        assert refused.headers["retry-after"] == "1"
        for response in opened:  # the caller leaves: the gateway settles each stream
            await response.aclose()
        for _ in range(50):
            again = await client.post(f"{second.url}{LEGACY}", json=CALL, headers=bearer(user))
            if again.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert again.status_code == 200


def test_the_python_openai_sdk_raises_rate_limit_error(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(QUOTA_RPM="1")
    user = f"py-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(
        base_url=f"{gateway.url}/api/v1", api_key=make_token(user), max_retries=0
    )
    hi: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
    with client:
        client.chat.completions.create(model="mock/text", messages=hi)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="mock/text", messages=hi)
    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.response.headers["retry-after"]) > 0


async def used_now(client: httpx.AsyncClient, url: str, user: str) -> dict[str, float]:
    answer = await client.get(f"{url}/api/v1/limits", headers=bearer(user))
    assert answer.status_code == 200
    return {item["kind"]: item["used"] for item in answer.json()["limits"]}


async def settled(client: httpx.AsyncClient, url: str, user: str) -> dict[str, float]:
    """The caller's use once nothing is in flight any more (settlements land just after)."""
    for _ in range(50):
        found = await used_now(client, url, user)
        if found["concurrent_calls"] == 0:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"a reservation is still held: {found}")


@pytest.mark.parametrize("store", ["memory", "redis"])
@pytest.mark.parametrize(
    "ending", ["completed", "cancelled by the caller", "broken upstream", "upstream error"]
)
async def test_every_stream_ending_settles_its_reservation(
    gateway_factory: GatewayFactory, journal: MockControl, store: str, ending: str
) -> None:
    """Settled with what the upstream reported when it did (a completed stream); otherwise a
    call that may have spent is charged its whole reservation (a cancelled or broken stream);
    a call refused upstream before any spend is charged nothing. Never left held."""
    env = {"QUOTA_TOKENS_PER_DAY": "1000000", "QUOTA_CONCURRENT_STREAMS": "5"}
    gateway = gateway_factory(**env, **({"REDIS_URL": REDIS_URL} if store == "redis" else {}))
    user = f"settle-{uuid.uuid4().hex[:8]}"
    model = {
        "completed": "mock/text?tokens=20&prompt_tokens=7&completion_tokens=20",
        "cancelled by the caller": "mock/text?tokens=200&tpot_ms=50",
        "broken upstream": "mock/drop?after=3",
        "upstream error": "mock/error?status=400",
    }[ending]
    stream = {**CALL, "model": model, "stream": True}
    async with httpx.AsyncClient(timeout=30) as client:
        request = client.build_request(
            "POST", f"{gateway.url}{LEGACY}", json=stream, headers=bearer(user)
        )
        response = await client.send(request, stream=True)
        assert response.status_code == 200
        if ending == "cancelled by the caller":
            async for _line in response.aiter_lines():
                if _line.startswith("data:"):
                    break  # one event read: the call has reached the upstream
            assert (await used_now(client, gateway.url, user))["concurrent_calls"] == 1
        else:
            await response.aread()
        await response.aclose()
        used = await settled(client, gateway.url, user)
    sent = next(r for r in reversed(journal.requests()) if r["json"].get("model") == model)
    prompt, completion = tokens_of(sent["json"], 16384, prompt_chars(sent["json"]))
    if ending == "completed":
        assert used["tokens_per_day"] == 7 + 20  # as the mock reported it
    elif ending == "upstream error":
        assert used["tokens_per_day"] == 0
    else:
        assert used["tokens_per_day"] == prompt + completion
