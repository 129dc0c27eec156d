"""The browser example (examples/browser/), served at /examples/browser/ in dev mode only.

`ai-gateway --mock-upstream` starts the mock and names it in DEV_UPSTREAM_ENV (app/devmode.py);
the example is mounted only while that is the upstream this app talks to. Its config.json hands
the page the dev user token, so the README's first command ends in a working page; a gateway
with a real upstream must never hand out a token, hence the check against the configured URL
rather than a setting an operator could leave on. The environment carries it because the
CLI's worker processes (app/supervisor.py) build their apps from it.

Files are served from an allow-list of kinds, never from node_modules: the folder is the
developer's copy of the example, with its package files and its build's dependencies beside it.
"""

import os
from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from app.config import Settings
from app.deps import gateway_of
from app.devmode import DEV_UPSTREAM_ENV, dev_token
from app.errors import GatewayError, error_response

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "browser"
PREFIX = "/examples/browser"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The mock's scenarios that show each feature off: a chat answer that visibly streams (60 words,
# 40 ms apart) and a picture a browser can draw.
DEV_MODELS = {
    "chat": "mock/text?tokens=60&tpot_ms=40",
    "image": "mock/image?picture=1",
    "embedding": "openai/text-embedding-3-small",
}
BUNDLES = ("vendor/insforge-sdk.js", "vendor/openai.js")

router = APIRouter(include_in_schema=False)


def enabled(settings: Settings) -> bool:
    """Dev mode, with the example on disk (an image built without it serves no example)."""
    dev_upstream = os.environ.get(DEV_UPSTREAM_ENV)
    return (
        dev_upstream is not None
        and dev_upstream == str(settings.openrouter_base_url)
        and (EXAMPLE_DIR / "index.html").is_file()
    )


def missing_bundles() -> list[str]:
    return [name for name in BUNDLES if not (EXAMPLE_DIR / name).is_file()]


@router.get(PREFIX)
async def example_root() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get(f"{PREFIX}/config.json")
async def example_config(request: Request) -> Response:
    """Same-origin gateway, the dev user's token and the mock's showcase models."""
    secret = gateway_of(request).settings.jwt_secret.get_secret_value()
    token, _ = dev_token(secret)
    body = {"gateway": "", "token": token, "models": DEV_MODELS}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.api_route(PREFIX + "/{name:path}", methods=["GET", "HEAD"])
async def example_file(name: str, request: Request) -> Response:
    path = (EXAMPLE_DIR / (name or "index.html")).resolve()
    inside = path.is_relative_to(EXAMPLE_DIR) and "node_modules" not in path.parts
    if not inside or path.suffix not in MEDIA_TYPES or not path.is_file():
        hint = ""
        if name in BUNDLES:
            hint = " Build the SDK bundles: scripts/example.sh (needs Node.js 20+)."
        err = GatewayError(
            f"Endpoint {request.url.path} not found.{hint}", status_code=404, code="NOT_FOUND"
        )
        return error_response(err, request.url.path)
    # no-cache: a developer editing the example sees each change on reload.
    return FileResponse(
        path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"}
    )
