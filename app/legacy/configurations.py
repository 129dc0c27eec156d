"""Admin routes for AI configurations, as the legacy backend had them: create
(an upsert on the model id, made active), list the active ones with their usage, change the
system prompt, disable. They live in the ledger's database; with the ledger off they answer 503.

The Python SDK (app/legacy/clients.py) validates each listed configuration as its
`AIConfiguration`: it gets `modality`, `createdAt` and `updatedAt` besides the legacy keys. It
drops None values before sending, so `update_configuration(id)` (clearing the prompt) sends
`{}`: a missing `systemPrompt` clears it, as `null` does.
"""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import RowMapping
from starlette.responses import Response

from app.auth import AdminDep
from app.deps import GatewayDep
from app.errors import GatewayError
from app.json_shape import Json
from app.ledger.access import LedgerDep, LedgerOffError
from app.ledger.configurations import ConfigStore, NewConfig
from app.ledger.queries import utc
from app.legacy import admin_openapi as docs
from app.legacy.clients import PythonSdkDep
from app.legacy.schemas import LegacyModel
from app.openapi import ADMIN_AUTH
from app.pipeline import json_response

router = APIRouter(prefix="/api/ai/configurations", tags=["legacy-admin"])

Modality = Literal["text", "image", "audio"]


class ConfigurationCreate(LegacyModel):
    input_modality: list[Modality] = Field(alias="inputModality", min_length=1)
    output_modality: list[Modality] = Field(alias="outputModality", min_length=1)
    provider: str
    model_id: str = Field(alias="modelId")
    system_prompt: str | None = Field(default=None, alias="systemPrompt")


class ConfigurationUpdate(LegacyModel):
    system_prompt: str | None = Field(default=None, alias="systemPrompt")


async def config_store(gateway: GatewayDep) -> ConfigStore:
    if gateway.configs is None:
        raise LedgerOffError(
            "AI configurations are kept in the usage ledger, which is off on this gateway.",
            next_actions="Ask the operator to set LEDGER_ENABLED=true.",
        )
    return gateway.configs


# After AdminDep in every signature: a caller who is not an admin learns nothing of the ledger.
StoreDep = Annotated[ConfigStore, Depends(config_store)]


def _not_found(config_id: str) -> GatewayError:
    return GatewayError(
        f"AI configuration {config_id} not found", status_code=404, code="NOT_FOUND"
    )


@router.post("", status_code=201, responses=docs.CONFIG_CREATED, openapi_extra=ADMIN_AUTH)
async def create_configuration(
    _admin: AdminDep, store: StoreDep, body: ConfigurationCreate
) -> Response:
    """Create the model's configuration, or replace it (made active again)."""
    config_id = await store.upsert(
        NewConfig(
            model_id=body.model_id,
            provider=body.provider,
            input_modality=body.input_modality,
            output_modality=body.output_modality,
            system_prompt=body.system_prompt,
        )
    )
    answer = {"id": config_id, "message": "AI configuration created successfully"}
    response = json_response(answer)
    response.status_code = 201
    return response


@router.get("", responses=docs.CONFIG_LIST, openapi_extra=ADMIN_AUTH)
async def list_configurations(
    _admin: AdminDep, store: StoreDep, _written: LedgerDep, python_sdk: PythonSdkDep
) -> Response:
    """The active configurations, each with the usage of the calls made under it (the calls
    queued for the ledger so far included: `LedgerDep` writes them first)."""
    rows = await store.list_active()
    return json_response([_listed(row, python_sdk) for row in rows])


@router.patch("/{config_id}", responses=docs.CONFIG_CHANGED, openapi_extra=ADMIN_AUTH)
async def update_configuration(
    config_id: str, _admin: AdminDep, store: StoreDep, body: ConfigurationUpdate
) -> Response:
    """Set the system prompt (`null`, or no `systemPrompt` at all, clears it)."""
    if not await store.set_system_prompt(config_id, body.system_prompt):
        raise _not_found(config_id)
    return json_response({"message": "AI configuration updated successfully"})


@router.delete("/{config_id}", responses=docs.CONFIG_CHANGED, openapi_extra=ADMIN_AUTH)
async def delete_configuration(config_id: str, _admin: AdminDep, store: StoreDep) -> Response:
    """Disable the configuration (its row and its usage stay)."""
    if not await store.disable(config_id):
        raise _not_found(config_id)
    return json_response({"message": "AI configuration disabled successfully"})


def _listed(row: RowMapping, python_sdk: bool) -> Json:
    input_tokens = row["input_tokens"] or 0
    output_tokens = row["output_tokens"] or 0
    listed: Json = {
        "id": row["id"],
        "inputModality": row["input_modality"],
        "outputModality": row["output_modality"],
        "provider": row["provider"],
        "modelId": row["model_id"],
        "systemPrompt": row["system_prompt"],
        "usageStats": {
            "totalInputTokens": input_tokens,
            "totalOutputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
            "totalImageCount": row["image_count"] or 0,
            "totalRequests": row["requests"] or 0,
            "totalCost": row["cost"] or 0,  # USD, OpenRouter's own figures; not in the legacy
        },
    }
    if python_sdk:
        output: list[str] = row["output_modality"]
        listed["modality"] = "image" if "image" in output else output[0]
        listed["createdAt"] = _iso(row["created_at"])
        listed["updatedAt"] = _iso(row["updated_at"])
    return listed


def _iso(moment: datetime) -> str:
    """JavaScript's `toISOString()`; SQLite gives back naive datetimes, written in UTC."""
    return utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")
