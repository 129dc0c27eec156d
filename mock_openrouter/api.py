"""The upstream surface, ``/api/v1/*``: auth, scenario selection and one ``Plan`` per request.

Selection precedence (the header ahead of the model):
the queue, then ``X-Mock-Scenario``, then the ``model`` DSL. Auth runs first, like upstream's
pre-router checks, so a 401 never consumes a queued scenario. Video jobs (``/videos*``) are
planned in ``video.py``; ``/providers``, ``/models/{author}/{slug}/endpoints`` and
``/videos/models`` are data in ``catalog_routes.py``.
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import parse_qs

from . import catalog, video
from .catalog_routes import ENDPOINTS_PATH, PROVIDERS, VIDEO_MODELS, model_endpoints
from .config import MockConfig
from .dsl import ScenarioSpec, model_spec, parse_dsl
from .embeddings import build_embeddings_plan
from .errors import MISSING_AUTH, USER_NOT_FOUND, http_error
from .journal import JournalEntry
from .payloads import mask_key
from .plan import Plan
from .script import build_chat_plan, json_plan
from .state import MockState

INVALID_KEY = "sk-or-invalid"
MODELS_CACHE = {
    "Cache-Control": "public, max-age=300, stale-while-revalidate=3600, stale-if-error=3600"
}
EMBEDDING_FAULTS = frozenset(
    {"error", "nonstream_200_error", "drop", "slow_headers", "embeddings_empty"}
)
AUTHED_GETS = frozenset({"/api/v1/models/user", "/api/v1/generation", "/api/v1/key"})


def bearer_token(headers: dict[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_auth(headers: dict[str, str], rng: random.Random) -> Plan | None:
    token = bearer_token(headers)
    if not token:
        return json_plan(401, MISSING_AUTH, "auth", rng)
    if token == INVALID_KEY:
        return json_plan(401, USER_NOT_FOUND, "auth", rng)
    return None


def select_spec(state: MockState, entry: JournalEntry, model: str) -> ScenarioSpec:
    queued = state.queue.take(entry.path, model, bearer_token(entry.headers))
    if queued is not None:
        return queued
    header = entry.headers.get("x-mock-scenario", "").strip()
    if header:
        return parse_dsl(header, "header")
    return model_spec(model)


def _embeddings_spec(spec: ScenarioSpec) -> ScenarioSpec:
    if spec.name in EMBEDDING_FAULTS:
        return spec
    return ScenarioSpec("embeddings", spec.params, spec.requested, spec.source)


def _models_body(models: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": models, "total_count": len(models), "links": {"next": None}}


def _key_body(state: MockState, token: str) -> dict[str, Any]:
    limit = state.config.key_limit
    used = round(state.key_usage, 12)
    remaining = None if limit is None else round(max(0.0, limit - used), 12)
    return {
        "data": {
            "label": mask_key(token),
            "limit": limit,
            "limit_reset": None,
            "limit_remaining": remaining,
            "include_byok_in_limit": False,
            "usage": used,
            "usage_daily": used,
            "usage_weekly": used,
            "usage_monthly": used,
            "byok_usage": 0,
            "byok_usage_daily": 0,
            "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
            "is_free_tier": False,
            "is_management_key": False,
            "is_provisioning_key": False,
            "creator_user_id": "user_2mockUser",
            "expires_at": None,
            "rate_limit": {
                "requests": 1000,
                "interval": "1h",
                "note": "This field is deprecated and safe to ignore.",
            },
        }
    }


def _generation_plan(state: MockState, query: dict[str, list[str]], rng: random.Random) -> Plan:
    gen_id = (query.get("id") or [""])[0]
    record = state.generations.get(gen_id)
    lag = state.config.generation_lag_ms / 1000
    if record is None or time.time() < record["_ready_at"] + lag:
        body = {"error": {"message": f"Generation {gen_id} not found", "code": 404}}
        return json_plan(404, body, "generation", rng)
    data = {k: v for k, v in record.items() if not k.startswith("_")}
    return json_plan(200, {"data": data}, "generation", rng)


def _key_limited(cfg: MockConfig, state: MockState, rng: random.Random) -> Plan | None:
    if cfg.key_limit is None or state.key_usage < cfg.key_limit:
        return None
    metadata = {"limit_source": "openrouter_key_limit", "provider_name": None}
    body = {"error": {"message": "Key limit exceeded", "code": 402, "metadata": metadata}}
    return json_plan(402, body, "key_limit", rng)


def _record_spec(entry: JournalEntry, spec: ScenarioSpec) -> None:
    entry.scenario, entry.scenario_source, entry.scenario_params = (
        spec.name,
        spec.source,
        spec.params,
    )


def _video_submit(state: MockState, entry: JournalEntry, rng: random.Random) -> Plan:
    request: dict[str, Any] = entry.json if isinstance(entry.json, dict) else {}
    model = str(request.get("model") or "")
    spec = select_spec(state, entry, model)
    _record_spec(entry, spec)
    if spec.name == "error":
        status, body, extra = http_error(spec, model, time.time())
        return json_plan(status, body, "error", rng, extra)
    limited = _key_limited(state.config, state, rng)
    if limited is not None:
        return limited
    return video.submit_plan(state, entry, spec, rng)


def _catalog_plan(path: str, query: dict[str, list[str]], rng: random.Random) -> Plan | None:
    """The public catalog reads, or None for any other path."""
    outputs = query["output_modalities"][0] if "output_modalities" in query else None
    inputs = query["input_modalities"][0] if "input_modalities" in query else None
    if path in ("/api/v1/models", "/api/v1/models/user"):
        body = _models_body(catalog.filter_models(outputs, inputs))
        return json_plan(200, body, "models", rng, MODELS_CACHE)
    if path == "/api/v1/models/count":
        count = len(catalog.filter_models(outputs, inputs))
        return json_plan(200, {"data": {"count": count}}, "models", rng)
    if path == "/api/v1/embeddings/models":
        return json_plan(200, _models_body(catalog.EMBEDDING_MODELS), "models", rng, MODELS_CACHE)
    if path == video.VIDEO_MODELS_PATH:
        return json_plan(200, {"data": VIDEO_MODELS}, "models", rng, MODELS_CACHE)
    if path == "/api/v1/providers":
        return json_plan(200, {"data": PROVIDERS}, "providers", rng, MODELS_CACHE)
    match = ENDPOINTS_PATH.match(path)
    if match is None:
        return None
    endpoints = model_endpoints(match["model"])
    if endpoints is None:
        body = {"error": {"message": f"No endpoints found for {match['model']}", "code": 404}}
        return json_plan(404, body, "not_found", rng)
    return json_plan(200, endpoints, "endpoints", rng, MODELS_CACHE)


def plan_request(state: MockState, entry: JournalEntry, rng: random.Random) -> Plan:
    path, method, headers = entry.path, entry.method, entry.headers
    query = parse_qs(entry.query)
    needs_auth = method == "POST" or path in AUTHED_GETS or video.needs_auth(path)
    if needs_auth and (denied := check_auth(headers, rng)) is not None:
        return denied
    if method == "POST" and path == video.VIDEOS_PATH:
        return _video_submit(state, entry, rng)
    request: dict[str, Any] = entry.json if isinstance(entry.json, dict) else {}
    if method == "POST" and path in ("/api/v1/chat/completions", "/api/v1/embeddings"):
        if entry.json is None or not isinstance(entry.json, dict):
            body = {"error": {"message": "Invalid JSON body", "code": 400}}
            return json_plan(400, body, "invalid_json", rng)
        model = str(request.get("model") or "")
        spec = select_spec(state, entry, model)
        _record_spec(entry, spec)
        limited = _key_limited(state.config, state, rng)
        if limited is not None:
            return limited
        if path.endswith("/embeddings"):
            return build_embeddings_plan(
                _embeddings_spec(spec), request, state.config, rng, time.time()
            )
        accept_gzip = "gzip" in headers.get("accept-encoding", "")
        return build_chat_plan(spec, request, state.config, rng, time.time(), accept_gzip)
    if method != "GET":
        return json_plan(
            405, {"error": {"message": "Method Not Allowed", "code": 405}}, "not_found", rng
        )
    queued = state.queue.take(path, "", bearer_token(headers))
    if queued is not None and queued.name == "error":
        # Catalog reads can be scripted to fail too (the gateway serves its cache then).
        status, body, extra = http_error(queued, "", time.time())
        entry.scenario, entry.scenario_source = queued.name, queued.source
        return json_plan(status, body, "error", rng, extra)
    listed = _catalog_plan(path, query, rng)
    if listed is not None:
        return listed
    job = video.job_plan(state, entry, rng)
    if job is not None:
        return job
    if path == "/api/v1/generation":
        return _generation_plan(state, query, rng)
    if path == "/api/v1/key":
        return json_plan(200, _key_body(state, bearer_token(headers)), "key", rng)
    return json_plan(404, {"error": {"message": "Not Found", "code": 404}}, "not_found", rng)
