"""`POST /api/ai/image/generation`: legacy image generation through chat completions (§5)."""

from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal
from app.deps import Gateway
from app.policy import PolicyError, apply_policy
from app.routers.common import (
    ai_route,
    call_upstream,
    json_response,
    legacy_refusal,
    read_legacy,
)
from app.schemas.legacy import ImageGenerationRequest
from app.translate_media import from_upstream_image, to_upstream_image


@ai_route("/api/ai/image/generation")
async def create_image(
    request: Request, raw: bytes, principal: Principal, gateway: Gateway
) -> Response:
    """Generate images; the answer collects every choice's images."""
    settings, upstream = gateway.settings, gateway.upstream
    image = read_legacy(request, raw, ImageGenerationRequest, settings)
    body = to_upstream_image(image)
    try:
        await apply_policy(
            body, user_id=principal.id, settings=settings, assets=gateway.assets, surface="legacy"
        )
    except PolicyError as err:
        raise legacy_refusal(err) from err
    answer, headers = await call_upstream(
        upstream, "chat/completions", body, timeout_s=settings.image_upstream_timeout_s
    )
    return json_response(from_upstream_image(answer, image.model), headers)
