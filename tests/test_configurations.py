"""AI configurations (issue 12, points 4 and 5): the admin routes on SQLite and PostgreSQL, the
system prompt and AI_REQUIRE_CONFIG on the legacy chat and image calls (the upstream body as the
recorder received it), the usage per configuration, and the real Python SDK's four methods."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from insforge import InsforgeClient
from pydantic import ValidationError

from app.config import Settings
from app.ledger.configurations import ConfigStore, NewConfig
from app.ledger.database import create_engine
from app.ledger.migrate import migrate
from app.ledger.queries import Scope, summarize
from app.ledger.schema import ai_calls
from tests.factories import API_KEY, make_settings, make_token
from tests.gateways import GatewayFactory
from tests.inprocess import gateway
from tests.ledger_support import postgres_role, postgres_url

ADMIN = {"X-API-Key": API_KEY}
USER = {"Authorization": f"Bearer {make_token('user-7')}"}
CONFIGS = "/api/ai/configurations"
CHAT = "/api/ai/chat/completion"
IMAGE = "/api/ai/image/generation"
NOT_ENABLED = "Model {} is not enabled. Please contact your administrator to enable this model."


def config_body(model: str, system_prompt: str | None = None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputModality": ["text"],
        "outputModality": ["text"],
        "provider": "openrouter",
        "modelId": model,
        **more,
    }
    if system_prompt is not None:
        body["systemPrompt"] = system_prompt
    return body


def chat(model: str, **more: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **more}


def settings_on(database_url: str, **overrides: Any) -> Settings:
    return make_settings(
        ledger_enabled=True, database_url=database_url, ledger_flush_s=0.05, **overrides
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url
        return
    async with postgres_role() as role:
        yield postgres_url(role)


async def test_create_list_update_disable(database_url: str) -> None:
    async with gateway(settings_on(database_url)) as (client, _recorder):
        created = await client.post(CONFIGS, json=config_body("m", "Be brief"), headers=ADMIN)
        assert created.status_code == 201
        config_id = created.json()["id"]
        assert created.json() == {
            "id": config_id,
            "message": "AI configuration created successfully",
        }

        listed = (await client.get(CONFIGS, headers=ADMIN)).json()
        assert listed == [
            {
                "id": config_id,
                "inputModality": ["text"],
                "outputModality": ["text"],
                "provider": "openrouter",
                "modelId": "m",
                "systemPrompt": "Be brief",
                "usageStats": {
                    "totalInputTokens": 0,
                    "totalOutputTokens": 0,
                    "totalTokens": 0,
                    "totalImageCount": 0,
                    "totalRequests": 0,
                    "totalCost": 0,
                },
            }
        ]

        # An upsert on the model id: the same row, replaced.
        again = await client.post(
            CONFIGS,
            json=config_body("m", "Be long", outputModality=["text", "image"]),
            headers=ADMIN,
        )
        assert again.json()["id"] == config_id
        [row] = (await client.get(CONFIGS, headers=ADMIN)).json()
        assert (row["systemPrompt"], row["outputModality"]) == ("Be long", ["text", "image"])

        patched = await client.patch(
            f"{CONFIGS}/{config_id}", json={"systemPrompt": "X"}, headers=ADMIN
        )
        assert patched.json() == {"message": "AI configuration updated successfully"}
        assert (await client.get(CONFIGS, headers=ADMIN)).json()[0]["systemPrompt"] == "X"
        # The Python SDK sends `{}` to clear the prompt (it drops None values).
        cleared = await client.patch(f"{CONFIGS}/{config_id}", json={}, headers=ADMIN)
        assert cleared.status_code == 200
        assert (await client.get(CONFIGS, headers=ADMIN)).json()[0]["systemPrompt"] is None

        deleted = await client.delete(f"{CONFIGS}/{config_id}", headers=ADMIN)
        assert deleted.json() == {"message": "AI configuration disabled successfully"}
        assert (await client.get(CONFIGS, headers=ADMIN)).json() == []

        # Made again: the same row, active again.
        revived = await client.post(CONFIGS, json=config_body("m"), headers=ADMIN)
        assert revived.json()["id"] == config_id
        assert [c["id"] for c in (await client.get(CONFIGS, headers=ADMIN)).json()] == [config_id]

        for method in ("PATCH", "DELETE"):
            missing = await client.request(
                method, f"{CONFIGS}/nope", json={"systemPrompt": None}, headers=ADMIN
            )
            assert missing.status_code == 404
            assert missing.json() == {
                "error": "NOT_FOUND",
                "message": "AI configuration nope not found",
                "statusCode": 404,
            }


@pytest.mark.parametrize(
    "body",
    [
        config_body("m", inputModality=[]),
        config_body("m", outputModality=["video"]),
        {"inputModality": ["text"], "outputModality": ["text"], "provider": "openrouter"},
    ],
)
async def test_an_invalid_configuration_is_refused(sqlite_url: str, body: dict[str, Any]) -> None:
    async with gateway(settings_on(sqlite_url)) as (client, _recorder):
        answer = await client.post(CONFIGS, json=body, headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["error"] == "INVALID_INPUT"


async def test_only_admins(sqlite_url: str) -> None:
    async with gateway(settings_on(sqlite_url)) as (client, _recorder):
        for method, path in (
            ("POST", CONFIGS),
            ("GET", CONFIGS),
            ("PATCH", f"{CONFIGS}/x"),
            ("DELETE", f"{CONFIGS}/x"),
        ):
            body = config_body("m") if method == "POST" else None
            nobody = await client.request(method, path, json=body)
            user = await client.request(method, path, json=body, headers=USER)
            assert (nobody.status_code, user.status_code) == (401, 403), (method, path)
            assert user.json()["error"] == "AUTH_UNAUTHORIZED"
        admin_jwt = {"Authorization": f"Bearer {make_token('admin-1', role='project_admin')}"}
        assert (await client.get(CONFIGS, headers=admin_jwt)).status_code == 200


async def test_ledger_off_answers_503() -> None:
    async with gateway(make_settings()) as (client, _recorder):
        answer = await client.get(CONFIGS, headers=ADMIN)
        nobody = await client.get(CONFIGS)
    assert answer.status_code == 503
    assert answer.json()["error"] == "LEDGER_DISABLED"
    assert nobody.status_code == 401


def test_require_config_needs_the_ledger() -> None:
    with pytest.raises(ValidationError, match="AI_REQUIRE_CONFIG"):
        make_settings(ai_require_config=True)


async def test_system_prompt_goes_first(sqlite_url: str) -> None:
    async with gateway(settings_on(sqlite_url)) as (client, recorder):
        for model, prompt in (("m", "Be brief"), ("m:thinking", "Think"), ("img", "Cartoon")):
            await client.post(CONFIGS, json=config_body(model, prompt), headers=ADMIN)
        assert (await client.post(CHAT, json=chat("m"), headers=USER)).status_code == 200
        stream = await client.post(CHAT, json=chat("m", stream=True), headers=USER)
        assert stream.status_code == 200
        await client.post(CHAT, json=chat("m", thinking=True), headers=USER)
        image = await client.post(IMAGE, json={"model": "img", "prompt": "A cat"}, headers=USER)
        assert image.status_code == 200
        with_images = {
            "model": "img",
            "prompt": "A dog",
            "images": [{"url": "data:image/png;base64,AAAA"}],
        }
        assert (await client.post(IMAGE, json=with_images, headers=USER)).status_code == 200
        await client.post(CHAT, json=chat("other"), headers=USER)
    system = {"role": "system", "content": "Be brief"}
    user = {"role": "user", "content": "Hi"}
    assert recorder.bodies[0]["messages"] == [system, user]
    assert recorder.bodies[1]["messages"] == [system, user]
    assert recorder.bodies[2]["model"] == "m:thinking"
    assert recorder.bodies[2]["messages"] == [{"role": "system", "content": "Think"}, user]
    assert recorder.bodies[3]["messages"] == [{"role": "user", "content": "Cartoon\n\nA cat"}]
    assert recorder.bodies[4]["messages"][0]["content"][0] == {
        "type": "text",
        "text": "Cartoon\n\nA dog",
    }
    assert recorder.bodies[5]["messages"] == [user]


async def test_require_config_refuses_unconfigured_models(sqlite_url: str) -> None:
    settings = settings_on(sqlite_url, ai_require_config=True)
    async with gateway(settings) as (client, recorder):
        refused = await client.post(CHAT, json=chat("m"), headers=USER)
        assert refused.status_code == 400
        assert refused.json() == {
            "error": "AI_INVALID_MODEL",
            "message": NOT_ENABLED.format("m"),
            "statusCode": 400,
        }
        # On a stream, as the legacy backend did: an error event with status 200.
        stream = await client.post(CHAT, json=chat("m", stream=True), headers=USER)
        assert stream.status_code == 200
        assert orjson.loads(stream.text.removeprefix("data: ").strip()) == {
            "error": True,
            "message": NOT_ENABLED.format("m"),
        }
        image = await client.post(IMAGE, json={"model": "img", "prompt": "A cat"}, headers=USER)
        assert (image.status_code, image.json()["message"]) == (400, NOT_ENABLED.format("img"))
        assert recorder.bodies == []

        embeddings = await client.post(
            "/api/ai/embeddings", json={"model": "e", "input": "x"}, headers=USER
        )
        assert embeddings.status_code == 200  # not gated
        assert len(recorder.bodies) == 1

        # Configured, then disabled: the cache follows the admin routes at once.
        created = await client.post(CONFIGS, json=config_body("m"), headers=ADMIN)
        assert (await client.post(CHAT, json=chat("m"), headers=USER)).status_code == 200
        await client.delete(f"{CONFIGS}/{created.json()['id']}", headers=ADMIN)
        assert (await client.post(CHAT, json=chat("m"), headers=USER)).status_code == 400
        # The thinking variant is its own model id, as in the legacy backend.
        thinking = await client.post(CHAT, json=chat("m", thinking=True), headers=USER)
        assert thinking.json()["message"] == NOT_ENABLED.format("m:thinking")
    assert len(recorder.bodies) == 2


async def test_allowed_models_still_applies(sqlite_url: str) -> None:
    settings = settings_on(sqlite_url, allowed_models=["m"])
    async with gateway(settings) as (client, recorder):
        await client.post(CONFIGS, json=config_body("other", "Be brief"), headers=ADMIN)
        refused = await client.post(CHAT, json=chat("other"), headers=USER)
        assert (refused.status_code, refused.json()["error"]) == (400, "AI_INVALID_MODEL")
    assert recorder.bodies == []


async def test_usage_stats_count_the_calls_made_under_a_configuration(database_url: str) -> None:
    async with gateway(settings_on(database_url)) as (client, _recorder):
        created = await client.post(CONFIGS, json=config_body("m"), headers=ADMIN)
        await client.post(CONFIGS, json=config_body("idle"), headers=ADMIN)
        for _ in range(2):
            assert (await client.post(CHAT, json=chat("m"), headers=USER)).status_code == 200
        await client.post(CHAT, json=chat("m", stream=True), headers=USER)
        await client.post(CHAT, json=chat("unconfigured"), headers=USER)
        listed = (await client.get(CONFIGS, headers=ADMIN)).json()
    stats = {c["modelId"]: c["usageStats"] for c in listed}
    assert created.json()["id"] == listed[0]["id"]
    cost = stats["m"].pop("totalCost")
    assert cost == pytest.approx(2 * 0.00042 + 0.0007)
    assert stats["m"] == {
        "totalInputTokens": 3 + 3 + 4,
        "totalOutputTokens": 2 + 2 + 1,
        "totalTokens": 15,
        "totalImageCount": 0,
        "totalRequests": 3,
    }
    assert stats["idle"]["totalRequests"] == 0


async def test_the_python_sdk_shapes(sqlite_url: str) -> None:
    sdk = {**ADMIN, "User-Agent": "InsForge-Python/0.1.0"}
    async with gateway(settings_on(sqlite_url)) as (client, _recorder):
        await client.post(
            CONFIGS, json=config_body("m", outputModality=["text", "image"]), headers=ADMIN
        )
        [row] = (await client.get(CONFIGS, headers=sdk)).json()
    assert row["modality"] == "image"
    assert row["createdAt"].endswith("Z")
    assert row["updatedAt"].endswith("Z")


async def test_python_sdk_configuration_methods(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    process = gateway_factory.own(
        LEDGER_ENABLED="true", DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.db'}"
    )
    admin = InsforgeClient(base_url=process.url, api_key=API_KEY)
    try:
        created = await admin.ai.create_configuration(
            input_modality=["text"],
            output_modality=["text"],
            provider="openrouter",
            model_id="mock/text",
            system_prompt="Be brief",
        )
        assert created.message == "AI configuration created successfully"
        [listed] = await admin.ai.list_configurations()
        assert (listed.id, listed.model_id, listed.modality) == (created.id, "mock/text", "text")
        assert listed.system_prompt == "Be brief"
        assert listed.created_at.tzinfo is not None

        updated = await admin.ai.update_configuration(created.id, system_prompt="Be long")
        assert updated.message == "AI configuration updated successfully"
        assert (await admin.ai.list_configurations())[0].system_prompt == "Be long"
        await admin.ai.update_configuration(created.id)  # `{}`: clears it
        assert (await admin.ai.list_configurations())[0].system_prompt is None

        deleted = await admin.ai.delete_configuration(created.id)
        assert deleted.message == "AI configuration disabled successfully"
        assert await admin.ai.list_configurations() == []
    finally:
        await admin.aclose()


async def test_usage_stats_and_the_usage_summary_count_the_same_calls(tmp_path: Path) -> None:
    # One definition of a billable call (app/ledger/queries.py BILLABLE) for both: a served
    # call counts; a legacy stream refused after validation (a 200 carrying only the refusal)
    # and an upstream error do not.
    engine = create_engine(make_settings(database_url=f"sqlite:///{tmp_path / 'l.db'}"))
    try:
        await migrate(engine)
        store = ConfigStore(engine)
        config_id = await store.upsert(NewConfig("m/a", "openrouter", ["text"], ["text"], None))
        base = {
            "started_at": datetime.now(UTC),
            "user_id": "u",
            "role": "authenticated",
            "auth_kind": "user",
            "surface": "legacy",
            "route": "/api/ai/chat/completion",
            "requested_model": "m/a",
            "latency_ms": 1,
            "config_id": config_id,
            "cost_usd": 0.5,
        }
        rows = [
            {**base, "status": 200, "outcome": "ok"},
            {**base, "status": 200, "outcome": "refused"},
            {**base, "status": 502, "outcome": "upstream_error"},
        ]
        async with engine.begin() as conn:
            await conn.execute(ai_calls.insert(), rows)
        (listed,) = await store.list_active()
        summary = await summarize(engine, Scope(config_id=config_id))
        assert listed["requests"] == summary.totals.requests == 1
        assert listed["cost"] == summary.totals.cost == 0.5
    finally:
        await engine.dispose()
