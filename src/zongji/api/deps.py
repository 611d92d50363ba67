"""What the composition root's own endpoints (`api/system.py`, `api/platform_routes.py`) depend
on: the node's services.

A context's routes never see these: each declares what it needs with `platform.web.Provided`,
and `api/app.py` provides it (see ARCHITECTURE.md, "Layers and contexts").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from zongji.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
