"""The public catalog reads beyond ``/models``: ``/providers``, a model's ``/endpoints`` and
``/videos/models``.

Shapes follow OpenRouter's API reference (``ListProvidersData``, ``ListEndpointsResponse`` with
``PublicEndpoint`` items, ``VideoModel``). Every provider an endpoint names is in ``/providers``,
and ``mock/*`` models are served by every provider a chat response can name
(``payloads.PROVIDERS``), so a gateway can join the three reads. Video models are listed only at
``/videos/models``, as upstream does: they never appear in ``/models``.
"""

from __future__ import annotations

import re
from typing import Any

from .catalog import ALL_MODELS
from .payloads import PROVIDERS as CHAT_PROVIDERS

ENDPOINTS_PATH = re.compile(r"^/api/v1/models/(?P<model>[^/]+/[^/]+)/endpoints$")


def _provider(name: str, slug: str, site: str, hq: str, dcs: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "slug": slug,
        "privacy_policy_url": f"https://{site}/privacy",
        "terms_of_service_url": f"https://{site}/terms",
        "status_page_url": f"https://status.{site}",
        "headquarters": hq,
        "datacenters": dcs,
    }


PROVIDERS: list[dict[str, Any]] = [
    _provider("OpenAI", "openai", "openai.com", "US", ["US"]),
    _provider("Azure", "azure", "azure.microsoft.com", "US", ["US", "IE", "SE"]),
    _provider("Google Vertex", "google-vertex", "cloud.google.com", "US", ["US", "BE"]),
    _provider("Google AI Studio", "google-ai-studio", "ai.google.dev", "US", ["US"]),
    _provider("DeepInfra", "deepinfra", "deepinfra.com", "US", ["US"]),
    _provider("Parasail", "parasail", "parasail.io", "US", ["US"]),
    _provider("Black Forest Labs", "black-forest-labs", "bfl.ai", "DE", ["DE", "US"]),
]
_SLUGS = {p["name"]: p["slug"] for p in PROVIDERS}

# Which providers serve a model, by author; mock models are served by all the chat providers.
_SERVED_BY = {
    "mock": CHAT_PROVIDERS,
    "openai": ("OpenAI", "Azure"),
    "google": ("Google Vertex", "Google AI Studio"),
    "black-forest-labs": ("Black Forest Labs",),
}
_DEFAULT_SERVED_BY = ("DeepInfra", "Parasail")


def _percentiles(p50: float, factors: tuple[float, float, float]) -> dict[str, float]:
    p75, p90, p99 = (round(p50 * f, 3) for f in factors)
    return {"p50": round(p50, 3), "p75": p75, "p90": p90, "p99": p99}


# Latency grows towards the tail; throughput (tokens/s) shrinks, as in upstream's example.
_LATENCY_TAIL = (1.3, 1.8, 3.0)
_THROUGHPUT_TAIL = (0.85, 0.65, 0.35)


def _endpoint(model: dict[str, Any], provider: str, rank: int) -> dict[str, Any]:
    top = model["top_provider"]
    return {
        "name": f"{provider} | {model['id']}",
        "model_id": model["id"],
        "model_name": model["name"],
        "context_length": model["context_length"],
        "pricing": {**model["pricing"], "discount": 0},
        "provider_name": provider,
        "tag": _SLUGS.get(provider, provider.lower()),
        "quantization": "unknown" if rank == 0 else "fp8",
        "max_completion_tokens": top["max_completion_tokens"],
        "max_prompt_tokens": None,
        "supported_parameters": model["supported_parameters"],
        "status": 0,
        "uptime_last_30m": round(100 - rank * 0.4, 2),
        "uptime_last_5m": 100,
        "uptime_last_1d": round(99.9 - rank * 0.2, 2),
        "supports_implicit_caching": rank == 0,
        "latency_last_30m": _percentiles(0.3 + rank * 0.1, _LATENCY_TAIL),
        "throughput_last_30m": _percentiles(80.0 - rank * 10, _THROUGHPUT_TAIL),
    }


def model_endpoints(model_id: str) -> dict[str, Any] | None:
    """``/models/{author}/{slug}/endpoints`` for a catalog model, or None when unknown."""
    model = next((m for m in ALL_MODELS if m["id"] == model_id), None)
    if model is None:
        return None
    author = model_id.partition("/")[0]
    providers = _SERVED_BY.get(author, _DEFAULT_SERVED_BY)
    return {
        "data": {
            "id": model["id"],
            "name": model["name"],
            "created": model["created"],
            "description": model["description"],
            "architecture": model["architecture"],
            "endpoints": [_endpoint(model, name, rank) for rank, name in enumerate(providers)],
        }
    }


def _video_model(
    model_id: str,
    name: str,
    durations: list[int],
    resolutions: list[str],
    aspect_ratios: list[str],
    per_second: str,
    audio: bool | None = True,
    sizes: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "hugging_face_id": None,
        "name": name,
        "created": 1_759_870_431,
        "description": f"{name} (mock)",
        "supported_resolutions": resolutions,
        "supported_aspect_ratios": aspect_ratios,
        "supported_sizes": sizes,
        "supported_durations": durations,
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": audio,
        "seed": True,
        "pricing_skus": {"per-video-second": per_second},
        "allowed_passthrough_parameters": [],
    }


_RATIOS = ["16:9", "9:16", "1:1"]
VIDEO_MODELS: list[dict[str, Any]] = [
    _video_model(
        "mock/video", "Mock: Video", [4, 5, 6, 8, 10], ["480p", "720p", "1080p"], _RATIOS, "0.01"
    ),
    _video_model(
        "google/veo-3.1",
        "Google: Veo 3.1",
        [4, 6, 8],
        ["720p", "1080p"],
        ["16:9", "9:16"],
        "0.40",
        sizes=["1280x720", "1920x1080"],
    ),
    _video_model(
        "bytedance/seedance-2.0",
        "ByteDance: Seedance 2.0",
        [5, 10],
        ["480p", "720p", "1080p"],
        [*_RATIOS, "4:3", "3:4", "21:9"],
        "0.05",
        audio=None,
    ),
]
_VIDEO_BY_ID = {m["id"]: m for m in VIDEO_MODELS}


def video_model(model: str) -> dict[str, Any] | None:
    """The ``/videos/models`` entry for a request's model; any ``mock/video?…`` is mock/video."""
    base = model.partition("?")[0]
    return _VIDEO_BY_ID.get(base)
