"""Resources reach handlers only through one small request-state reader.

The lifespan builds a `Gateway` (settings and the shared clients) and yields it in its `State`;
Starlette copies that onto every request's `state`. One dependency hands it to handlers: FastAPI
spends real CPU per dependency on every request, so resources travel together rather than as
five separate readers. Tests build the app with their own settings rather than patching globals.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypedDict, cast

from fastapi import Depends
from starlette.requests import Request

from app.config import Settings

if TYPE_CHECKING:
    from app.assets.resolver import AssetResolver
    from app.jwks import JwksKeys
    from app.ledger.configurations import ConfigStore
    from app.streams.clock import ShutdownCoordinator
    from app.upstream.catalog import ModelCatalog
    from app.upstream.client import UpstreamClient


@dataclass(frozen=True, slots=True)
class Gateway:
    settings: Settings
    upstream: "UpstreamClient"
    shutdown: "ShutdownCoordinator"
    catalog: "ModelCatalog"
    assets: "AssetResolver"
    # The AI configurations, when the ledger (their database) is on.
    configs: "ConfigStore | None" = None
    # The keys of JWT_JWKS_URL, when it is set (app/jwks.py).
    jwks: "JwksKeys | None" = None


class State(TypedDict):
    gateway: Gateway


def gateway_of(request: Request) -> Gateway:
    return cast(Gateway, request.state.gateway)


async def get_gateway(request: Request) -> Gateway:
    return gateway_of(request)


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
