"""Health, metrics and server status (ADM-25, ADM-28)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from zongji import __version__
from zongji.api.deps import ServicesDep
from zongji.identity.web import AnyUser, ConsoleUser
from zongji.platform.db import PLATFORM
from zongji.platform.nodes import NodeStatus

router = APIRouter(tags=["system"])


class VersionInfo(BaseModel):
    """What the client's "about" page and the console show (ADM-28, CL-7)."""

    version: str
    api_version: str


class SystemStatus(BaseModel):
    version: str
    api_version: str
    nodes: list[NodeStatus]


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request, services: ServicesDep) -> Response:
    """Ready when the node has started and its database answers."""
    ready = getattr(request.app.state, "ready", False)
    try:
        async with services.db.session(PLATFORM) as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unavailable"
    ok = ready and database == "ok"
    body = {"status": "ok" if ok else "unavailable", "ready": ready, "database": database}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/api/v1/system/status", response_model=SystemStatus)
async def system_status(principal: ConsoleUser, services: ServicesDep) -> SystemStatus:
    """Each node: name, ports, state, start time, version."""
    return SystemStatus(version=__version__, api_version="v1", nodes=await services.nodes.all())


@router.get("/api/v1/system/version", response_model=VersionInfo)
async def system_version(principal: AnyUser) -> VersionInfo:
    """The server's product version and API version, for everyone logged in (the client's
    about page shows it); node details stay with the console (`/api/v1/system/status`)."""
    return VersionInfo(version=__version__, api_version="v1")
