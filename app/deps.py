"""Resources reach handlers only through these small request-state readers.

The lifespan yields a `State`; Starlette copies it onto every request's `state`. Tests override
the readers (or build the app with their own settings) rather than patching globals.
"""

from typing import TYPE_CHECKING, Annotated, TypedDict, cast

from fastapi import Depends
from starlette.requests import Request

from app.config import Settings

if TYPE_CHECKING:
    from app.assets import AssetResolver
    from app.catalog import ModelCatalog
    from app.stream_clock import ShutdownCoordinator
    from app.upstream import UpstreamClient


class State(TypedDict):
    settings: Settings
    upstream: "UpstreamClient"
    shutdown: "ShutdownCoordinator"
    catalog: "ModelCatalog"
    assets: "AssetResolver"


async def get_settings_dep(request: Request) -> Settings:
    return cast(Settings, request.state.settings)


async def get_upstream(request: Request) -> "UpstreamClient":
    return cast("UpstreamClient", request.state.upstream)


async def get_shutdown(request: Request) -> "ShutdownCoordinator":
    return cast("ShutdownCoordinator", request.state.shutdown)


async def get_catalog(request: Request) -> "ModelCatalog":
    return cast("ModelCatalog", request.state.catalog)


async def get_assets(request: Request) -> "AssetResolver":
    return cast("AssetResolver", request.state.assets)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
UpstreamDep = Annotated["UpstreamClient", Depends(get_upstream)]
ShutdownDep = Annotated["ShutdownCoordinator", Depends(get_shutdown)]
CatalogDep = Annotated["ModelCatalog", Depends(get_catalog)]
AssetsDep = Annotated["AssetResolver", Depends(get_assets)]
