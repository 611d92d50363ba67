"""The FastAPI application: routes of every context, errors as problem+json, request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from zongji import __version__
from zongji.api import problems
from zongji.api.docs import install_docs
from zongji.api.limits import BodyLimit
from zongji.api.platform_routes import router as platform_router
from zongji.api.system import router as system_router
from zongji.api.ws.endpoint import router as ws_router
from zongji.audit.api import AuditApiDeps, audit_api
from zongji.audit.api import router as audit_router
from zongji.directory.api import router as directory_router
from zongji.directory.routes import ROUTERS as DIRECTORY_ROUTERS
from zongji.directory.web import DirectoryApiDeps, directory_api
from zongji.identity.api import IdentityApiDeps, identity_api
from zongji.identity.api import router as identity_router
from zongji.identity.web import authenticator
from zongji.pbx.api import ROUTERS as PBX_ROUTERS
from zongji.pbx.web import PbxApiDeps, pbx_api
from zongji.services import Services

log = logging.getLogger("zongji.http")


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Zongji (云总机) API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # FastAPI's own page loads Swagger UI from a CDN: see install_docs
        redoc_url=None,
    )
    app.state.services = services  # for the root's own routes (api/system, api/platform_routes)
    app.state.ready = False
    provide_context_deps(app, services)
    problems.install(app)
    install_docs(app)
    # The directory's routes go before enterprise provisioning's, whose
    # `/platform/enterprises/{id}/{verb}` would otherwise catch `…/{id}/numbers`.
    routers = (
        system_router,
        identity_router,
        *DIRECTORY_ROUTERS,
        directory_router,
        audit_router,
        *PBX_ROUTERS,
        ws_router,
    )
    for router in (*routers, platform_router):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=services.settings.max_request_bytes)

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = _route_template(request)
        services.metrics.http_requests.labels(request.method, route, response.status_code).inc()
        services.metrics.http_seconds.labels(request.method, route).observe(elapsed)
        log.info(
            "http",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "ms": round(elapsed * 1000, 1),
                "client": request.client.host if request.client else None,
            },
        )
        return response

    return app


def provide_context_deps(app: FastAPI, s: Services) -> None:
    """Give each context's routes the small set of services it declared (`platform.web.Provided`),
    so no context's route can reach the others' services through `Services`."""
    authenticator.provide(app, s.identity)
    identity_api.provide(app, IdentityApiDeps(identity=s.identity))
    audit_api.provide(
        app, AuditApiDeps(audit=s.audit, enterprises=s.directory.enterprises, clock=s.clock)
    )
    directory_api.provide(
        app,
        DirectoryApiDeps(clock=s.clock, directory=s.directory, identity=s.identity),
    )
    pbx_api.provide(
        app,
        PbxApiDeps(
            settings=s.settings, clock=s.clock, enterprises=s.directory.enterprises, pbx=s.pbx
        ),
    )


def _route_template(request: Request) -> str:
    """The route's path template (`/x/{id}`), so metrics don't grow a series per object id."""
    return str(getattr(request.scope.get("route"), "path", "unmatched"))
