"""The route table: every route the gateway serves, in one place, mounted by `create_app`.

The AI routes are `AiRoute`s: they run through the pipeline (`app/pipeline.py`), and an exact
POST to one is dispatched to it straight from the edge (`app/edge.py`). Everything else is an
ordinary FastAPI router. Each `AiRoute` also carries what `/openapi.json` shows of it (its
surface's `openapi` module: body, answer, stream event, errors in the surface's envelope).
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app import health
from app.legacy import admin, configurations
from app.legacy import openapi as legacy_docs
from app.legacy import quotas as legacy_quotas
from app.legacy import routes as legacy
from app.legacy import usage as legacy_usage
from app.legacy.errors import LEGACY
from app.legacy.schemas import ChatCompletionRequest, EmbeddingsRequest, ImageGenerationRequest
from app.pipeline import AiRoute, Handler
from app.v1 import catalog as v1_catalog
from app.v1 import limits as v1_limits
from app.v1 import openapi as v1_docs
from app.v1 import routes as v1
from app.v1 import usage as v1_usage
from app.v1 import videos as v1_videos
from app.v1.errors import V1


def _legacy(
    path: str, handler: Handler, summary: str, model: type[BaseModel], **docs: Any
) -> AiRoute:
    return AiRoute(path, handler, LEGACY, summary, model, responses=legacy_docs.AI_ERRORS, **docs)


def _v1(path: str, handler: Handler, summary: str, **docs: Any) -> AiRoute:
    return AiRoute(path, handler, V1, summary, responses=v1_docs.AI_ERRORS, **docs)


AI_ROUTES: tuple[AiRoute, ...] = (
    _legacy(
        "/api/ai/chat/completion",
        legacy.create_chat_completion,
        "Chat completion (legacy InsForge schema), JSON or Server-Sent Events",
        ChatCompletionRequest,
        answer_schema=legacy_docs.CHAT_ANSWER,
        stream_event=legacy_docs.CHAT_EVENT,
    ),
    _legacy(
        "/api/ai/image/generation",
        legacy.create_image,
        "Image generation (legacy InsForge schema)",
        ImageGenerationRequest,
        answer_schema=legacy_docs.IMAGE_ANSWER,
    ),
    _legacy(
        "/api/ai/embeddings",
        legacy.create_embeddings,
        "Embeddings (legacy InsForge schema)",
        EmbeddingsRequest,
        answer_schema=legacy_docs.EMBEDDINGS_ANSWER,
    ),
    _v1(
        "/api/v1/chat/completions",
        v1.create_chat_completion,
        "Chat completions (OpenAI-compatible), JSON or Server-Sent Events",
        request_schema=v1_docs.CHAT_REQUEST,
        answer_schema=v1_docs.CHAT_ANSWER,
        stream_event=v1_docs.CHAT_EVENT,
    ),
    _v1(
        "/api/v1/embeddings",
        v1.create_embeddings,
        "Embeddings (OpenAI-compatible)",
        request_schema=v1_docs.EMBEDDINGS_REQUEST,
        answer_schema=v1_docs.EMBEDDINGS_ANSWER,
    ),
    _v1(
        "/api/v1/videos",
        v1_videos.create_video,
        "Submit a video generation job (answers 202; poll its polling_url)",
        request_schema=v1_docs.VIDEO_REQUEST,
        answer_schema=v1_docs.VIDEO_SUBMITTED,
        answer_status=202,
    ),
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    admin.router,
    configurations.router,
    legacy_usage.router,
    legacy_quotas.router,
    v1.router,
    v1_catalog.router,
    v1_videos.router,
    v1_usage.router,
    v1_limits.router,
)
