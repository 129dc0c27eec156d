"""`POST /api/ai/embeddings`: legacy embeddings (§6), floats upstream, base64 made here."""

from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal
from app.deps import Gateway
from app.errors import UpstreamError
from app.policy import PolicyError, check_models
from app.routers.common import (
    ai_route,
    call_upstream,
    json_response,
    legacy_refusal,
    read_legacy,
)
from app.schemas.legacy import EmbeddingsRequest
from app.translate_media import from_upstream_embeddings, to_upstream_embeddings


@ai_route("/api/ai/embeddings")
async def create_embeddings(
    request: Request, raw: bytes, _principal: Principal, gateway: Gateway
) -> Response:
    """Embed a string or a list of strings."""
    settings, upstream = gateway.settings, gateway.upstream
    embeddings = read_legacy(request, raw, EmbeddingsRequest, settings)
    try:
        check_models({"model": embeddings.model}, settings)
    except PolicyError as err:
        raise legacy_refusal(err) from err
    answer, headers = await call_upstream(
        upstream, "embeddings", to_upstream_embeddings(embeddings)
    )
    try:
        result = from_upstream_embeddings(answer, embeddings.encoding_format)
    except ValueError as err:
        # OpenRouter has answered 200 with `data: []`; that is a failure, not an empty success.
        raise UpstreamError("The AI provider returned no embeddings.", status_code=502) from err
    return json_response(result, headers)
