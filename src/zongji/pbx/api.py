"""The PBX's HTTP routes, one router per part, mounted by `zongji.api.app`."""

from __future__ import annotations

from fastapi import APIRouter

from zongji.pbx.dashboard import api as dashboard_api
from zongji.pbx.devices import api as devices_api
from zongji.pbx.policy import api as policy_api
from zongji.pbx.records import api as records_api
from zongji.pbx.trunks import api as trunks_api
from zongji.pbx.voicemail import api as voicemail_api

ROUTERS: tuple[APIRouter, ...] = (
    devices_api.router,
    records_api.router,
    voicemail_api.router,
    policy_api.router,
    trunks_api.router,
    dashboard_api.router,
)
