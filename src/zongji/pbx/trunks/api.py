"""/api/v1/platform/trunks: the operator's carrier trunks, with this node's view of their health.

Operators only: a trunk's settings (and whether it is up) are the platform's business, and an
enterprise admin never sees which carrier carries their calls. The password is write-only.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from zongji.identity.web import Operator
from zongji.pbx.trunks.schemas import TrunkChange, TrunkCreate, TrunkOut
from zongji.pbx.web import PbxDeps
from zongji.platform.web import AddressDep

router = APIRouter(prefix="/api/v1/platform/trunks", tags=["trunks"])


def _with_health(services: PbxDeps, trunk: TrunkOut) -> TrunkOut:
    return trunk.model_copy(update={"health": services.pbx.trunk_runtime.health(trunk.id)})


@router.get("", response_model=list[TrunkOut])
async def list_trunks(operator: Operator, services: PbxDeps) -> list[TrunkOut]:
    """Every trunk, in the order calls try them (priority, then name), with its live health."""
    return [_with_health(services, t) for t in await services.pbx.trunks.all()]


@router.post("", response_model=TrunkOut, status_code=status.HTTP_201_CREATED)
async def create_trunk(
    body: TrunkCreate, operator: Operator, services: PbxDeps, address: AddressDep
) -> TrunkOut:
    """Add a SIP trunk to the carrier (registration or IP mode)."""
    trunk = await services.pbx.trunks.create(operator.actor(address), body)
    return _with_health(services, trunk)


@router.get("/{trunk_id}", response_model=TrunkOut)
async def get_trunk(trunk_id: uuid.UUID, operator: Operator, services: PbxDeps) -> TrunkOut:
    """One trunk with its live health (registration, OPTIONS)."""
    return _with_health(services, await services.pbx.trunks.get(trunk_id))


@router.patch("/{trunk_id}", response_model=TrunkOut)
async def change_trunk(
    trunk_id: uuid.UUID,
    body: TrunkChange,
    operator: Operator,
    services: PbxDeps,
    address: AddressDep,
) -> TrunkOut:
    """Change a trunk; only the fields given change."""
    trunk = await services.pbx.trunks.change(operator.actor(address), trunk_id, body)
    return _with_health(services, trunk)


@router.delete("/{trunk_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_trunk(
    trunk_id: uuid.UUID, operator: Operator, services: PbxDeps, address: AddressDep
) -> Response:
    """Remove a trunk."""
    await services.pbx.trunks.delete(operator.actor(address), trunk_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
