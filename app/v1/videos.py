"""`/api/v1/videos`: OpenRouter's asynchronous video generation (submit → poll → download),
for browser apps, under the gateway's policy.

- Submit (`POST /api/v1/videos`) is an AI call through the pipeline: the model allow-list, the
  remote-asset policy for every `frame_images` and `input_references` URL (the parts of a chat
  message, app/assets/parts.py), admission (app/quotas/), and a ledger row whose
  `generation_id` is the job's id: the job's owner (app/ledger/jobs.py). A caller's
  `callback_url` is dropped unless VIDEO_CALLBACK_HOSTS allows its host: OpenRouter would
  otherwise call any address a caller names, with what the job made.
- Poll and download answer the job's owner (an admin: any job); anyone else gets 404 and
  nothing goes upstream. The answer's `polling_url` and `unsigned_urls` point at these routes:
  OpenRouter's need its key. `polling_url` stays relative, as OpenRouter's is; the content URLs
  are absolute, as OpenRouter's are, on the address the caller used.
- The content is streamed through in the upstream's chunks, never held whole; a caller who
  leaves closes the upstream download.
- A job's cost is recorded on its submit's row the first time a poll reports it.
- The routes need the ledger (who owns a job lives there): without it they answer 503.

Video spend is in the ledger, and so in every usage summary; it does not count towards the
QUOTA_USD_* limits, which settle when the submit ends, before the job has a cost.
"""

import logging
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote, urlsplit

import httpx
import orjson
from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.assets.resolver import host_allowed
from app.auth import Principal, PrincipalDep
from app.deps import GatewayDep
from app.errors import JSON_MEDIA_TYPE, GatewayError, InvalidInputError, UpstreamError
from app.json_shape import Json
from app.ledger.access import LedgerDep
from app.ledger.jobs import job_call, record_job_cost
from app.openapi import CALLER_AUTH
from app.pipeline import Call, json_response
from app.policy import PolicyError, check_models, resolve_assets
from app.upstream.failures import UpstreamFailure
from app.v1 import openapi as docs
from app.v1.catalog import allowed_models
from app.v1.errors import to_openai_error
from app.v1.routes import parse_object

log = logging.getLogger("app.videos")

ROUTE = "/api/v1/videos"
MODELS_TTL_S = 3600.0
JOB_ID_MAX_CHARS = 255  # the ledger's generation_id column
# What the download passes on of the upstream's headers.
CONTENT_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "content-disposition",
    "etag",
)
ASSET_LISTS = ("frame_images", "input_references")

router = APIRouter(prefix=ROUTE, tags=["openai"])


class JobNotFoundError(GatewayError):
    status_code = 404
    code = "job_not_found"


class LedgerNeededError(GatewayError):
    status_code = 503
    code = "ledger_disabled"


def _prompt(body: Json, max_chars: int) -> None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInputError("`prompt` must be a non-empty string.", code="invalid_prompt")
    if len(prompt) > max_chars:
        raise PolicyError("limits", f"`prompt` is longer than {max_chars} characters.")


async def _police_assets(call: Call, body: Json) -> None:
    """Each list of image parts goes through the asset policy as a chat message's parts do."""
    for name in ASSET_LISTS:
        parts = body.get(name)
        if parts is None:
            continue
        if not isinstance(parts, list):
            raise InvalidInputError(f"`{name}` must be an array of parts.", code="invalid_body")
        settings = call.gateway.settings
        await resolve_assets([{"role": "user", "content": parts}], call.gateway.assets, settings)


def _callback(body: Json, allowed_hosts: list[str]) -> None:
    url = body.get("callback_url")
    if url is None:
        return
    host = urlsplit(url).hostname if isinstance(url, str) else None
    if host and urlsplit(url).scheme == "https" and host_allowed(host, allowed_hosts):
        return
    del body["callback_url"]
    log.info("dropped a video job's callback_url (its host is not in VIDEO_CALLBACK_HOSTS)")


def _job_url(request_base: str, job_id: str, index: int) -> str:
    return f"{request_base}{ROUTE}/{quote(job_id, safe='')}/content?index={index}"


def _rewritten(answer: Json, base: str) -> Json:
    """The job as OpenRouter answered it, its URLs pointing at this gateway."""
    job_id = answer.get("id")
    if not isinstance(job_id, str):
        return answer
    answer["polling_url"] = f"{ROUTE}/{quote(job_id, safe='')}"
    urls = answer.get("unsigned_urls")
    if isinstance(urls, list):
        answer["unsigned_urls"] = [_job_url(base, job_id, i) for i in range(len(urls))]
    return answer


async def create_video(call: Call) -> Response:
    """Submit a video job; answers 202 with its id and where to poll it."""
    settings, upstream = call.gateway.settings, call.gateway.upstream
    if not settings.ledger_enabled:
        raise LedgerNeededError(
            "Video jobs need the usage ledger, which records who owns each job.",
            next_actions="Ask the operator to set LEDGER_ENABLED=true.",
        )
    body = parse_object(call.take_body(), settings)
    call.requested_model = model if isinstance(model := body.get("model"), str) else None
    if call.requested_model is None:
        raise InvalidInputError("`model` must be a video model's id.", code="invalid_model")
    check_models(body, settings)
    _prompt(body, settings.max_prompt_chars)
    await _police_assets(call, body)
    _callback(body, settings.video_callback_hosts)
    await call.admit(body)
    answer, _headers = await upstream.send_json("videos", body)
    job_id = answer.get("id")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= JOB_ID_MAX_CHARS:
        raise UpstreamError("The AI provider's job has no usable id.", code="upstream_invalid")
    call.usage.generation_id = job_id
    # A new job has no content yet: only its polling URL is rewritten.
    return Response(
        orjson.dumps(_rewritten(answer, "")), status_code=202, media_type=JSON_MEDIA_TYPE
    )


JobId = Annotated[str, Path(min_length=1, max_length=JOB_ID_MAX_CHARS)]


async def _owned(engine: AsyncEngine, principal: Principal, job_id: str) -> None:
    call = await job_call(engine, ROUTE, job_id)
    if call is None or (principal.kind != "admin" and call["user_id"] != principal.id):
        raise JobNotFoundError(f"Video job {job_id} not found.")


@router.get("/models", responses=docs.VIDEO_MODELS, openapi_extra=CALLER_AUTH)
async def list_video_models(_principal: PrincipalDep, gateway: GatewayDep) -> Response:
    """The video models and what each can do, only those this gateway allows."""
    try:
        answer = await gateway.catalog.listings.get("videos/models", MODELS_TTL_S)
    except UpstreamFailure as failure:
        raise to_openai_error(failure) from failure
    models = answer.get("data")
    if isinstance(models, list):
        answer = {**answer, "data": allowed_models(models, gateway.settings)}
    return json_response(answer)


@router.get("/{job_id}", responses=docs.VIDEO_JOB, openapi_extra=CALLER_AUTH)
async def get_video(
    job_id: JobId, principal: PrincipalDep, engine: LedgerDep, gateway: GatewayDep, request: Request
) -> Response:
    """The job's status and, once completed, where to download it and its cost."""
    await _owned(engine, principal, job_id)
    try:
        path = f"videos/{quote(job_id, safe='')}"
        answer = await gateway.upstream.get_json(path, inband_errors=False)
    except UpstreamFailure as failure:
        raise to_openai_error(failure) from failure
    usage = answer.get("usage")
    cost = usage.get("cost") if isinstance(usage, dict) else None
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        if await record_job_cost(engine, ROUTE, job_id, float(cost)):
            log.info("video job %s cost %s USD", job_id, cost)
    base = str(request.base_url).rstrip("/")
    return json_response(_rewritten(answer, base))


@router.get("/{job_id}/content", responses=docs.VIDEO_CONTENT, openapi_extra=CALLER_AUTH)
async def get_video_content(
    job_id: JobId,
    principal: PrincipalDep,
    engine: LedgerDep,
    gateway: GatewayDep,
    index: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> Response:
    """The video's bytes, streamed through from the upstream."""
    await _owned(engine, principal, job_id)
    try:
        resp = await gateway.upstream.open_download(
            f"videos/{quote(job_id, safe='')}/content", {"index": str(index)}
        )
    except UpstreamFailure as failure:
        raise to_openai_error(failure) from failure
    headers = {k: v for k in CONTENT_HEADERS if (v := resp.headers.get(k)) is not None}
    return StreamingResponse(_chunks(resp), status_code=resp.status_code, headers=headers)


async def _chunks(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream's bytes as they come; closing (the end, or the caller leaving, which
    cancels this) closes the upstream download and frees its slot."""
    stream = resp.stream  # the transport's bytes, as the chat relay reads them (no decoding)
    assert isinstance(stream, httpx.AsyncByteStream)
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await stream.aclose()
