"""The mock's model catalogue and pricing table.

A few ``mock/*`` ids are listed so a gateway that validates models against ``/models`` accepts the
DSL models. Prices are strings in USD per token, as on the wire; ``cost`` in usage is computed from
the same table so a gateway's cost accounting can be checked against the journal.
"""

from __future__ import annotations

from typing import Any

MOCK_PRICING = ("0.000001", "0.000002")
EMBEDDING_PRICE = "0.00000002"

_TEXT_PARAMS = ["max_tokens", "temperature", "top_p", "stop", "seed", "response_format"]
_TOOL_PARAMS = [*_TEXT_PARAMS, "tools", "tool_choice", "parallel_tool_calls"]


def _model(
    model_id: str,
    name: str,
    inputs: list[str],
    outputs: list[str],
    pricing: dict[str, str],
    params: list[str],
    context: int = 128_000,
) -> dict[str, Any]:
    modality = "+".join(inputs) + "->" + "+".join(outputs)
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "hugging_face_id": "",
        "name": name,
        "created": 1_759_870_431,
        "description": f"{name} (mock)",
        "context_length": context,
        "architecture": {
            "modality": modality,
            "input_modalities": inputs,
            "output_modalities": outputs,
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": 16_384,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        "supported_voices": None,
        "knowledge_cutoff": None,
        "expiration_date": None,
        "links": {"details": f"/api/v1/models/{model_id}/endpoints"},
    }


_MOCK = {"prompt": MOCK_PRICING[0], "completion": MOCK_PRICING[1]}
_FREE = {"prompt": "0", "completion": "0"}

MODELS: list[dict[str, Any]] = [
    _model("mock/text", "Mock: Text", ["text"], ["text"], _MOCK, _TEXT_PARAMS),
    _model("mock/tool", "Mock: Tools", ["text"], ["text"], _MOCK, _TOOL_PARAMS),
    _model("mock/web", "Mock: Web", ["text", "image"], ["text"], _MOCK, _TOOL_PARAMS),
    _model(
        "mock/reasoning", "Mock: Reasoning", ["text"], ["text"], _MOCK, [*_TEXT_PARAMS, "reasoning"]
    ),
    _model("mock/image", "Mock: Image", ["text", "image"], ["image", "text"], _MOCK, _TEXT_PARAMS),
    _model("mock/error", "Mock: Error", ["text"], ["text"], _MOCK, _TEXT_PARAMS),
    _model(
        "openai/gpt-4o-mini",
        "OpenAI: GPT-4o-mini",
        ["text", "image", "file"],
        ["text"],
        {"prompt": "0.00000015", "completion": "0.0000006"},
        _TOOL_PARAMS,
    ),
    _model(
        "meta-llama/llama-3.3-8b-instruct:free",
        "Meta: Llama 3.3 8B Instruct (free)",
        ["text"],
        ["text"],
        _FREE,
        _TOOL_PARAMS,
    ),
    _model(
        "google/gemini-2.5-flash-image",
        "Google: Nano Banana (Gemini 2.5 Flash Image)",
        ["image", "text"],
        ["image", "text"],
        {"prompt": "0.0000003", "completion": "0.0000025", "image_output": "0.00003"},
        _TEXT_PARAMS,
        context=32_768,
    ),
    _model(
        "black-forest-labs/flux.2-pro",
        "Black Forest Labs: FLUX.2 Pro",
        ["text", "image"],
        ["image"],
        {"prompt": "0", "completion": "0", "image_output": "0.03"},
        ["seed"],
    ),
]

EMBEDDING_MODELS: list[dict[str, Any]] = [
    _model(
        "openai/text-embedding-3-small",
        "OpenAI: Text Embedding 3 Small",
        ["text"],
        ["embeddings"],
        {"prompt": EMBEDDING_PRICE, "completion": "0"},
        ["dimensions"],
        context=8192,
    ),
    _model(
        "qwen/qwen3-embedding-8b",
        "Qwen: Qwen3 Embedding 8B",
        ["text"],
        ["embeddings"],
        {"prompt": "0.00000001", "completion": "0"},
        [],
        context=32_000,
    ),
]

ALL_MODELS = MODELS + EMBEDDING_MODELS
_PRICES = {m["id"]: m["pricing"] for m in ALL_MODELS}


def _modalities(value: str) -> set[str]:
    return {m.strip() for m in value.split(",") if m.strip()}


def filter_models(
    output_modalities: str | None, input_modalities: str | None = None
) -> list[dict[str, Any]]:
    """``/models`` semantics: outputs default to ``text``, ``all`` lists everything, a list
    matches any; ``input_modalities`` (no default) narrows the same way."""
    wanted = _modalities(output_modalities or "text")
    models = ALL_MODELS
    if "all" not in wanted:
        models = [m for m in models if wanted & set(m["architecture"]["output_modalities"])]
    inputs = _modalities(input_modalities or "all")
    if "all" not in inputs:
        models = [m for m in models if inputs & set(m["architecture"]["input_modalities"])]
    return models


def pricing_for(model: str) -> tuple[float, float]:
    """(prompt, completion) USD per token; unknown and ``mock/*`` models use the mock price."""
    base = model.partition("?")[0]
    prices = _PRICES.get(base) or _PRICES.get(base.rpartition(":")[0]) or _MOCK
    return float(prices["prompt"]), float(prices["completion"])
