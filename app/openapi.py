"""What `/openapi.json` says that FastAPI cannot infer from the routes.

The AI routes are plain endpoints that read their own body (app/pipeline.py), so FastAPI sees
no body parameter and no answer model there: `ai_responses` and `ai_openapi_extra` build both
from the `AiRoute`, and `create_app` passes them when it mounts the route. `complete_openapi`
adds what belongs to no single route: the component schemas of the legacy request models
(pydantic's JSON schema of the very classes that parse those bodies) and the security schemes;
and it drops the 422 FastAPI documents for a path parameter, because the gateway answers every
request it cannot parse with 400 in the surface's envelope (`_invalid_request` in app/main.py).
None of this runs on the request path.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from app.pipeline import AiRoute

Responses = dict[int | str, dict[str, Any]]

COMPONENT_REF = "#/components/schemas/{model}"
BEARER = "BearerAuth"
API_KEY = "ApiKeyAuth"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The user's InsForge access token (an HS256 JWT). The admin API key "
        "(`ik_…`) is accepted as a bearer token too, and so is the anon key (`anon_…`) on the "
        "AI routes when AI_ALLOW_ANON is set.",
    },
    API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The project's admin API key.",
    },
}
# OpenAPI lists alternative credentials as separate requirements: either one authenticates.
CALLER_AUTH: dict[str, Any] = {"security": [{BEARER: []}, {API_KEY: []}]}
# An admin is the API key, or a bearer `ik_…` key or `project_admin` JWT.
ADMIN_AUTH: dict[str, Any] = {"security": [{API_KEY: []}, {BEARER: []}]}

# The HTTP statuses the gateway never answers with (FastAPI documents one for path parameters).
NEVER_ANSWERED = ("422",)
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def error_responses(envelope: type, descriptions: Mapping[int, str]) -> Responses:
    """Error answers in FastAPI's `responses=` form, each a body in `envelope` (which FastAPI
    makes a named component schema)."""
    return {
        status: {"model": envelope, "description": text} for status, text in descriptions.items()
    }


def json_object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema object with these members, the `required` ones always present."""
    return {"type": "object", "required": required, "properties": properties}


def json_answer(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def sse_event(data: Mapping[str, Any]) -> dict[str, Any]:
    """One Server-Sent Event whose `data` is `data`, in FastAPI's shape for its own SSE routes.

    It goes under `schema`, which OpenAPI 3.1 tools (schemathesis among them) read as one event
    of a `text/event-stream` body; FastAPI's `itemSchema` is OpenAPI 3.2 and makes a 3.1
    document invalid."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": data,
            "event": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
    }


def ai_responses(route: AiRoute) -> Responses:
    """The route's answers: JSON (or Server-Sent Events, where it streams) and its errors."""
    answer = json_answer(route.answer_schema or {}, "The answer.")
    if route.stream_event is not None:
        answer["description"] = 'The answer; Server-Sent Events when the body has `"stream": true`.'
        answer["content"]["text/event-stream"] = {"schema": route.stream_event}
    errors = {status: dict(error) for status, error in route.responses.items()}
    return {route.answer_status: answer, **errors}


def ai_openapi_extra(route: AiRoute) -> dict[str, Any]:
    """The route's request body and credentials, for `add_api_route(openapi_extra=...)`."""
    if route.request_model is not None:
        # The component `complete_openapi` adds (request_components checks the name).
        schema: Mapping[str, Any] = {
            "$ref": COMPONENT_REF.format(model=route.request_model.__name__)
        }
    else:
        schema = route.request_schema or {"type": "object"}
    body = {"required": True, "content": {"application/json": {"schema": dict(schema)}}}
    return {"requestBody": body, **CALLER_AUTH}


class _AbsentNotNull(GenerateJsonSchema):
    """An absent legacy field is simply not sent upstream, and JSON null is refused there (zod's
    `.optional()`): pydantic's `"default": null` would document a value the gateway refuses."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema


def request_components(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The request models' JSON schemas (what they accept), keyed by component name."""
    wanted: list[tuple[type[BaseModel], Literal["validation"]]]
    wanted = [(model, "validation") for model in models]
    refs, top = models_json_schema(
        wanted, ref_template=COMPONENT_REF, schema_generator=_AbsentNotNull
    )
    for (model, _mode), ref in refs.items():
        # ai_openapi_extra names each model's component before this schema is built.
        assert ref == {"$ref": COMPONENT_REF.format(model=model.__name__)}, ref
    definitions: dict[str, Any] = top.get("$defs", {})
    return definitions


def complete_openapi(schema: dict[str, Any], routes: Iterable[AiRoute]) -> dict[str, Any]:
    """FastAPI's schema plus the request models' components and the security schemes."""
    models = [route.request_model for route in routes if route.request_model is not None]
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, definition in request_components(models).items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different component schemas are named {name}")
    components["securitySchemes"] = SECURITY_SCHEMES
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status in NEVER_ANSWERED:
                operation.get("responses", {}).pop(status, None)
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return schema
