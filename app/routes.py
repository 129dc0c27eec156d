"""The route table: every route the gateway serves, in one place, mounted by `create_app`.

The AI routes are `AiRoute`s: they run through the pipeline (`app/pipeline.py`), and an exact
POST to one is dispatched to it straight from the edge (`app/edge.py`). Everything else is an
ordinary FastAPI router. Each `AiRoute` also carries what `/openapi.json` shows of it (its
surface's `openapi` module: body, answer, stream event, errors in the surface's envelope).
"""

from fastapi import APIRouter

from app import health
from app.legacy import admin
from app.legacy import openapi as legacy_docs
from app.legacy import routes as legacy
from app.legacy.errors import LEGACY
from app.legacy.schemas import ChatCompletionRequest, EmbeddingsRequest, ImageGenerationRequest
from app.pipeline import AiRoute
from app.v1 import openapi as v1_docs
from app.v1 import routes as v1
from app.v1.errors import V1

AI_ROUTES: tuple[AiRoute, ...] = (
    AiRoute(
        "/api/ai/chat/completion",
        legacy.create_chat_completion,
        LEGACY,
        "Chat completion (legacy InsForge schema), JSON or Server-Sent Events",
        ChatCompletionRequest,
        answer_schema=legacy_docs.CHAT_ANSWER,
        stream_event=legacy_docs.CHAT_EVENT,
        responses=legacy_docs.AI_ERRORS,
    ),
    AiRoute(
        "/api/ai/image/generation",
        legacy.create_image,
        LEGACY,
        "Image generation (legacy InsForge schema)",
        ImageGenerationRequest,
        answer_schema=legacy_docs.IMAGE_ANSWER,
        responses=legacy_docs.AI_ERRORS,
    ),
    AiRoute(
        "/api/ai/embeddings",
        legacy.create_embeddings,
        LEGACY,
        "Embeddings (legacy InsForge schema)",
        EmbeddingsRequest,
        answer_schema=legacy_docs.EMBEDDINGS_ANSWER,
        responses=legacy_docs.AI_ERRORS,
    ),
    AiRoute(
        "/api/v1/chat/completions",
        v1.create_chat_completion,
        V1,
        "Chat completions (OpenAI-compatible), JSON or Server-Sent Events",
        request_schema=v1_docs.CHAT_REQUEST,
        answer_schema=v1_docs.CHAT_ANSWER,
        stream_event=v1_docs.CHAT_EVENT,
        responses=v1_docs.AI_ERRORS,
    ),
    AiRoute(
        "/api/v1/embeddings",
        v1.create_embeddings,
        V1,
        "Embeddings (OpenAI-compatible)",
        request_schema=v1_docs.EMBEDDINGS_REQUEST,
        answer_schema=v1_docs.EMBEDDINGS_ANSWER,
        responses=v1_docs.AI_ERRORS,
    ),
)

ROUTERS: tuple[APIRouter, ...] = (health.router, admin.router, v1.router)
