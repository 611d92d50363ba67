"""Number pools: the operator assigns numbers to an enterprise; its admins see them (ADM-13).
Direct lines are given to users through the user routes (`direct_line`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from zongji.directory.numbers import NumbersIn, NumberState, PoolNumberOut
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import DirectoryManager, Operator
from zongji.platform.web import AddressDep

router = APIRouter(tags=["directory: numbers"])
PLATFORM = "/api/v1/platform/enterprises/{enterprise_id}/numbers"


@router.post(PLATFORM, response_model=list[PoolNumberOut], status_code=status.HTTP_201_CREATED)
async def add_pool_numbers(
    enterprise_id: uuid.UUID,
    body: NumbersIn,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
) -> list[PoolNumberOut]:
    """Give numbers to an enterprise's pool; each number belongs to one enterprise only."""
    return await services.directory.numbers.add(
        operator.actor(address), enterprise_id, body.numbers
    )


@router.get(PLATFORM, response_model=list[PoolNumberOut])
async def operator_pool(
    enterprise_id: uuid.UUID,
    operator: Operator,
    services: DirectoryDeps,
    state: NumberState = NumberState.ALL,
) -> list[PoolNumberOut]:
    """An enterprise's number pool as the operator sees it, with each number's user."""
    await services.directory.enterprises.get(enterprise_id)  # 404 for an unknown enterprise
    return await services.directory.numbers.all(enterprise_id, state)


@router.delete(PLATFORM + "/{number}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_pool_number(
    enterprise_id: uuid.UUID,
    number: str,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
) -> Response:
    """Take a number back from an enterprise's pool (refused while it is a direct line)."""
    await services.directory.enterprises.get(enterprise_id)
    await services.directory.numbers.remove(operator.actor(address), enterprise_id, number)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/directory/numbers", response_model=list[PoolNumberOut])
async def enterprise_pool(
    manager: DirectoryManager, services: DirectoryDeps, state: NumberState = NumberState.ALL
) -> list[PoolNumberOut]:
    """The enterprise's number pool: free numbers can become direct lines."""
    return await services.directory.numbers.all(manager.tenant_id, state)
