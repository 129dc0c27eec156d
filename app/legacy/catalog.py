"""The legacy `GET /api/ai/models` shape from OpenRouter's catalog (pinned by
tests/routers/test_media.py).

Modalities keep every value, known ones first in a fixed order; prices are per million tokens,
rounded to 6 places, and only where the modality is token-priced; labels use JavaScript's
`toFixed` (ties round up, unlike Python's format); sorting is openai, anthropic, google, amazon,
then the rest, each by id in a locale-like order (punctuation before digits before letters).
"""

from typing import Any

from app.json_shape import Json
from app.legacy.js import js_to_fixed, js_value

MODALITY_ORDER = ("text", "image", "audio", "video", "file")
PROVIDER_ORDER = {"openai": 1, "anthropic": 2, "google": 3, "amazon": 4}
# ICU's root collation order for the punctuation that appears in model ids.
_PUNCTUATION = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"


def normalize_modalities(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    unique = list(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))
    known = [m for m in MODALITY_ORDER if m in unique]
    return known + sorted(m for m in unique if m not in MODALITY_ORDER)


def _per_million(value: Any) -> float:
    try:
        per_token = float(value)
    except (TypeError, ValueError):
        per_token = 0.0
    per_million = round(per_token * 1_000_000 * 1_000_000) / 1_000_000
    return max(0.0, per_million)


def price_label(price: float) -> str:
    if price == 0:
        return "Free"
    digits = 4 if price < 0.01 else 2 if price < 1 else 1
    return f"${js_to_fixed(price, digits)} / M tokens"


def legacy_model(raw: Json) -> Json:
    architecture = raw.get("architecture") or {}
    inputs = normalize_modalities(architecture.get("input_modalities"))
    outputs = normalize_modalities(architecture.get("output_modalities"))
    entry: Json = {
        "id": raw.get("id"),
        "created": raw.get("created"),
        "modelId": raw.get("id"),
        "provider": "openrouter",
        "inputModality": inputs,
        "outputModality": outputs,
    }
    pricing = raw.get("pricing")
    if isinstance(pricing, dict):
        input_priced = any(m in ("text", "file", "embeddings") for m in inputs)
        output_priced = "text" in outputs
        prompt, completion = (
            _per_million(pricing.get("prompt")),
            _per_million(pricing.get("completion")),
        )
        if input_priced:
            entry["inputPrice"] = js_value(prompt)
        if output_priced:
            entry["outputPrice"] = js_value(completion)
        if input_priced:
            entry["inputPriceLabel"] = price_label(prompt)
        if output_priced:
            entry["outputPriceLabel"] = price_label(completion)
    return entry


def _collation_key(model_id: str) -> tuple[tuple[int, int | str], ...]:
    key: list[tuple[int, int | str]] = []
    for char in model_id:
        if char.isdigit():
            key.append((1, char))
        elif char.isalpha():
            key.append((2, char.lower()))
        else:
            position = _PUNCTUATION.find(char)
            key.append((0, position if position >= 0 else len(_PUNCTUATION) + ord(char)))
    return tuple(key)


def legacy_models(raw_models: list[Json]) -> list[Json]:
    models = [legacy_model(m) for m in raw_models if isinstance(m, dict) and m.get("id")]
    models = [m for m in models if m["inputModality"] and m["outputModality"]]

    def order(model: Json) -> tuple[int, tuple[tuple[int, int | str], ...], str]:
        model_id = str(model["id"])
        company = model_id.split("/", 1)[0].lower()
        return PROVIDER_ORDER.get(company, 999), _collation_key(model_id), model_id

    return sorted(models, key=order)
