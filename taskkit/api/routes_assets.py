"""/api/v2/assets and /api/v2/assets/events: what `taskkit assets list|events` show."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from taskkit.api import auth
from taskkit.api.state import ApiState, api_state
from taskkit.services import assets as service

router = APIRouter(prefix="/api/v2/assets", tags=["Asset"], dependencies=[auth.viewer])


class AssetCollectionResponse(BaseModel):
    """Every asset a DAG names, by URI, with producers, consumers and its latest event."""

    assets: list[dict[str, Any]]
    total_entries: int


class AssetEventCollectionResponse(BaseModel):
    """The latest asset events, newest first."""

    asset_events: list[dict[str, Any]]
    total_entries: int


@router.get("")
def list_assets(api: ApiState = Depends(api_state)) -> AssetCollectionResponse:
    """Every asset with the DAGs that produce it and those scheduled on it."""
    found = service.list_assets(api.store)
    return AssetCollectionResponse(assets=found, total_entries=len(found))


@router.get("/events")
def list_asset_events(
    uri: str | None = Query(None, description="Only the events of this asset."),
    limit: int = Query(100, ge=1, le=service.MAX_EVENTS),
    api: ApiState = Depends(api_state),
) -> AssetEventCollectionResponse:
    """The latest `limit` events (of one asset with `uri`); 404 for an asset no DAG names."""
    events = service.list_asset_events(api.store, uri, limit)
    return AssetEventCollectionResponse(asset_events=events, total_entries=len(events))
