"""The answers the InsForge Python SDK (`insforge` 0.1.0) validates, made from the legacy ones.

Served only to that SDK (app/legacy/clients.py decides). Its models ignore unknown keys, so
each shape here keeps what the legacy answer had and adds or reshapes what the SDK reads:
- images: `{"type":"image_url","image_url":{"url"}}` for the legacy
  `{"type":"imageUrl","imageUrl"}`, plus `model` and `count`;
- the model list: `{"text":[group],"image":[group]}`, a group being
  `{"provider":"openrouter","configured","models":[OpenRouter's own entries]}`, grouped by
  output modality (a model that outputs both is in both), in the legacy list's order;
- credits: `credits` is the key's credit limit (null when unlimited), read like OpenRouter's
  `total_credits`, beside the legacy `usage`, `limit`, `remaining`.
"""

from app.json_shape import Json
from app.legacy.catalog import legacy_models

# OpenRouterModel in the SDK: the fields it reads, each with the JSON type it accepts. Values of
# another type are left out rather than failing the SDK's validation of the whole list.
_MODEL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "name": str,
    "created": int,
    "description": str,
    "architecture": dict,
    "pricing": dict,
    "context_length": int,
    "max_completion_tokens": int,
    "per_request_limits": dict,
    "supported_parameters": list,
}
SDK_GROUPS = ("text", "image")


def sdk_image(legacy: Json) -> Json:
    images = [
        {"type": "image_url", "image_url": {"url": image.get("imageUrl")}}
        for image in legacy.get("images") or []
    ]
    metadata = legacy.get("metadata") or {}
    return {**legacy, "model": metadata.get("model"), "images": images, "count": len(images)}


def _fits(value: object, kind: type | tuple[type, ...]) -> bool:
    return not isinstance(value, bool) and isinstance(value, kind)


def sdk_model(raw: Json) -> Json:
    model: Json = {k: raw[k] for k, kind in _MODEL_FIELDS.items() if _fits(raw.get(k), kind)}
    supported = model.get("supported_parameters")
    if supported is not None and not all(isinstance(p, str) for p in supported):
        del model["supported_parameters"]
    top = raw.get("top_provider")
    if isinstance(top, dict):
        model["topProvider"] = top  # the SDK's alias; it does not read `top_provider`
    return model


def sdk_models(raw_models: list[Json], configured: bool) -> Json:
    by_id = {m["id"]: m for m in raw_models if isinstance(m, dict) and isinstance(m.get("id"), str)}
    groups: dict[str, list[Json]] = {name: [] for name in SDK_GROUPS}
    for entry in legacy_models(raw_models):
        raw = by_id.get(entry["id"])
        if raw is None:
            continue
        for name in SDK_GROUPS:
            if name in entry["outputModality"]:
                groups[name].append(sdk_model(raw))
    return {
        name: [{"provider": "openrouter", "configured": configured, "models": models}]
        for name, models in groups.items()
    }


def sdk_credits(legacy: Json) -> Json:
    return {"credits": legacy["limit"], **legacy}
