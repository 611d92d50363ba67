"""/api/v1/dashboard: the enterprise admin's first page (issue 13), one request."""

from __future__ import annotations

from fastapi import APIRouter

from zongji.identity.web import EnterpriseAdmin
from zongji.pbx.dashboard.service import Dashboard
from zongji.pbx.web import PbxDeps

router = APIRouter(tags=["pbx: dashboard"])


@router.get("/api/v1/dashboard", response_model=Dashboard)
async def dashboard(admin: EnterpriseAdmin, services: PbxDeps) -> Dashboard:
    """Devices issued and registered, calls in progress, today's calls (totals and per hour of
    the day), and this month's billed outside minutes, in the enterprise's time zone. Server
    status and versions are `/api/v1/system/status`."""
    enterprise = await services.enterprises.get(admin.tenant_id)
    return await services.pbx.dashboard.figures(
        admin.tenant_id, enterprise.timezone, services.clock.now()
    )
