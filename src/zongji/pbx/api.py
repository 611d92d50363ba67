"""The PBX's HTTP routes, one router per part, mounted by `zongji.api.app`."""

from __future__ import annotations

from fastapi import APIRouter

from zongji.pbx.records import api as records_api

ROUTERS: tuple[APIRouter, ...] = (records_api.router,)
