"""The PBX's HTTP routes, one router per part, mounted by `zongji.api.app`."""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: tuple[APIRouter, ...] = ()
