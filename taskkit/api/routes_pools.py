"""/api/v2/pools: list, get, create, update, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from taskkit.api import auth
from taskkit.api.schemas import PoolBody, PoolCollectionResponse, PoolPatchBody, PoolResponse
from taskkit.api.state import ApiState, api_state
from taskkit.errors import ConflictError, PoolNotFoundError
from taskkit.services import pools as service
from taskkit.services.dags import MAX_PAGE

router = APIRouter(prefix="/api/v2/pools", tags=["Pool"])


@router.get("", dependencies=[auth.viewer])
def list_pools(
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0),
    api: ApiState = Depends(api_state),
) -> PoolCollectionResponse:
    """Every pool with its slots by what holds them."""
    pools = service.list_pools(api.store)
    page = pools[offset : offset + limit]
    return PoolCollectionResponse(
        pools=[PoolResponse.of(p) for p in page], total_entries=len(pools)
    )


@router.get("/{pool_name}", dependencies=[auth.viewer])
def get_pool(pool_name: str, api: ApiState = Depends(api_state)) -> PoolResponse:
    """One pool."""
    return PoolResponse.of(service.get_pool(api.store, pool_name))


@router.post("", dependencies=[auth.op], status_code=201)
def create_pool(body: PoolBody, api: ApiState = Depends(api_state)) -> PoolResponse:
    """Create a pool; 409 if one by that name exists."""
    try:
        service.get_pool(api.store, body.name)
    except PoolNotFoundError:
        pass
    else:
        raise ConflictError(f"Pool {body.name!r} already exists; PATCH it to change it.")
    service.set_pool(
        api.store, body.name, body.slots, body.description, include_deferred=body.include_deferred
    )
    return PoolResponse.of(service.get_pool(api.store, body.name))


@router.patch("/{pool_name}", dependencies=[auth.op])
def patch_pool(
    pool_name: str, body: PoolPatchBody, api: ApiState = Depends(api_state)
) -> PoolResponse:
    """Change a pool's slots and/or description."""
    current = service.get_pool(api.store, pool_name)
    slots = current.slots if body.slots is None else body.slots
    service.set_pool(
        api.store, pool_name, slots, body.description, include_deferred=body.include_deferred
    )
    return PoolResponse.of(service.get_pool(api.store, pool_name))


@router.delete("/{pool_name}", dependencies=[auth.op], status_code=204)
def delete_pool(pool_name: str, api: ApiState = Depends(api_state)) -> Response:
    """Delete a pool; default_pool cannot be deleted (400)."""
    service.delete_pool(api.store, pool_name)
    return Response(status_code=204)
