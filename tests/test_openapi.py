"""`/openapi.json` describes every route the app serves: each AI POST with its request body,
answers and errors in its surface's envelope, and the credentials each route takes."""

from typing import Any

import pytest
import schemathesis
from fastapi.routing import iter_route_contexts

from app.main import create_app
from app.routes import AI_ROUTES
from tests.factories import make_settings
from tests.inprocess import gateway

LEGACY_AI = ("/api/ai/chat/completion", "/api/ai/image/generation", "/api/ai/embeddings")
V1_AI = ("/api/v1/chat/completions", "/api/v1/embeddings")
STREAMING = ("/api/ai/chat/completion", "/api/v1/chat/completions")
ADMIN = ("/api/ai/models", "/api/ai/config", "/api/ai/{provider}/api-key")
AI_ERROR_STATUSES = ("400", "401", "403", "413", "429", "502", "503", "504")
FASTAPI_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
async def spec() -> dict[str, Any]:
    """The schema as served."""
    async with gateway(make_settings()) as (client, _recorder):
        resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    served: dict[str, Any] = resp.json()
    return served


def served_operations() -> set[tuple[str, str]]:
    """(path, method) of every route the app mounts, but FastAPI's own docs pages."""
    app = create_app(make_settings())
    operations = set()
    for route in iter_route_contexts(app.routes):
        assert route.path is not None
        if route.path in FASTAPI_DOCS:
            continue
        for method in route.methods or ():
            if method != "HEAD":
                operations.add((route.path, method.lower()))
    return operations


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith(REF)
    resolved: dict[str, Any] = spec["components"]["schemas"][ref.removeprefix(REF)]
    return resolved


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(spec).validate()  # against the OpenAPI 3.1 meta-schema


def test_every_route_is_documented(spec: dict[str, Any]) -> None:
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == served_operations()
    for path in (*LEGACY_AI, *V1_AI, *ADMIN, "/api/v1/models", "/healthz", "/readyz"):
        assert path in spec["paths"]


@pytest.mark.parametrize(("path", "status"), [(r.path, r.answer_status) for r in AI_ROUTES])
def test_ai_posts_document_body_answers_errors_and_credentials(
    spec: dict[str, Any], path: str, status: int
) -> None:
    operation = spec["paths"][path]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    request = resolve(spec, body["content"]["application/json"]["schema"])
    assert request["type"] == "object"
    assert request["properties"]

    assert {"200", "202"} & set(operation["responses"]) == {str(status)}
    answer = operation["responses"][str(status)]["content"]
    assert answer["application/json"]["schema"]["type"] == "object"
    assert ("text/event-stream" in answer) == (path in STREAMING)

    envelope = f"{REF}LegacyError" if path in LEGACY_AI else f"{REF}OpenAIError"
    for error_status in AI_ERROR_STATUSES:
        error = operation["responses"][error_status]
        assert error["description"]
        assert error["content"]["application/json"]["schema"] == {"$ref": envelope}
    assert {"BearerAuth": []} in operation["security"]


def test_legacy_bodies_are_the_models_that_parse_them(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    chat = schemas["ChatCompletionRequest"]
    assert chat["required"] == ["model", "messages"]
    # The wire names (aliases), the zod bounds, and no null where zod's .optional() refuses it.
    assert chat["properties"]["maxTokens"]["type"] == "integer"
    assert chat["properties"]["temperature"] == {
        "maximum": 2,
        "minimum": 0,
        "title": "Temperature",
        "type": "number",
    }
    assert chat["properties"]["stream"] == {"title": "Stream", "type": "boolean"}
    assert schemas["ChatMessage"]["properties"]["role"]["enum"] == [
        "user",
        "assistant",
        "system",
        "tool",
    ]
    assert schemas["TextPart"]["properties"]["type"]["const"] == "text"
    assert schemas["EmbeddingsRequest"]["required"] == ["model", "input"]


def test_v1_bodies_pass_everything_through(spec: dict[str, Any]) -> None:
    chat = spec["paths"]["/api/v1/chat/completions"]["post"]["requestBody"]
    embeddings = spec["paths"]["/api/v1/embeddings"]["post"]["requestBody"]
    for body, names in ((chat, {"model", "messages"}), (embeddings, {"model", "input"})):
        schema = body["content"]["application/json"]["schema"]
        assert schema["additionalProperties"] is True
        assert names <= schema["properties"].keys()
    chat_fields = chat["content"]["application/json"]["schema"]["properties"]
    assert {"stream", "max_tokens"} <= chat_fields.keys()


def test_envelopes_are_named_components(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    legacy = schemas["LegacyError"]
    assert legacy["required"] == ["error", "message", "statusCode"]
    assert legacy["properties"].keys() == {"error", "message", "statusCode", "nextActions"}
    assert schemas["OpenAIError"]["properties"]["error"] == {"$ref": f"{REF}OpenAIErrorDetail"}
    assert schemas["OpenAIErrorDetail"]["required"] == ["message", "type", "code"]


def test_security_schemes_and_where_they_apply(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {
        **schemes["BearerAuth"],
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schemes["ApiKeyAuth"] == {
        **schemes["ApiKeyAuth"],
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    for path in ADMIN:
        security = spec["paths"][path]["get"]["security"]
        assert security[0] == {"ApiKeyAuth": []}
        assert spec["paths"][path]["get"]["responses"]["403"]
    assert {"BearerAuth": []} in spec["paths"]["/api/v1/models"]["get"]["security"]
    for path in ("/healthz", "/readyz"):
        assert "security" not in spec["paths"][path]["get"]


def test_no_answer_the_gateway_never_gives(spec: dict[str, Any]) -> None:
    """Requests the gateway cannot parse get 400 in the envelope, never FastAPI's 422."""
    for item in spec["paths"].values():
        for operation in item.values():
            assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
