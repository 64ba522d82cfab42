"""/api/v2/connections: list, get, create, update, delete (admins only, passwords never shown)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from taskkit.api import auth
from taskkit.api.schemas_secrets import (
    ConnectionBody,
    ConnectionCollectionResponse,
    ConnectionResponse,
)
from taskkit.api.state import ApiState, api_state
from taskkit.authoring.connections import Connection
from taskkit.authoring.masking import MASK
from taskkit.errors import ConflictError, InvalidInputError
from taskkit.services import connections as service
from taskkit.services.dags import MAX_PAGE
from taskkit.services.fernet import secret_box

router = APIRouter(prefix="/api/v2/connections", tags=["Connection"], dependencies=[auth.admin])

_CHANGEABLE = frozenset(
    {"conn_type", "description", "host", "login", "schema", "port", "password", "extra"}
)


@router.get("")
def list_connections(
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0),
    api: ApiState = Depends(api_state),
) -> ConnectionCollectionResponse:
    """A page of connections by id, with how many there are in all."""
    page, total = service.list_connections(
        api.store, secret_box(api.config), limit=limit, offset=offset
    )
    return ConnectionCollectionResponse(
        connections=[ConnectionResponse.of(c) for c in page], total_entries=total
    )


@router.get("/{connection_id}")
def get_connection(connection_id: str, api: ApiState = Depends(api_state)) -> ConnectionResponse:
    """One connection."""
    conn = service.get_connection(api.store, secret_box(api.config), connection_id)
    return ConnectionResponse.of(conn)


@router.post("", status_code=201)
def create_connection(
    body: ConnectionBody, api: ApiState = Depends(api_state)
) -> ConnectionResponse:
    """Create a connection; 409 if one by that id exists."""
    box = secret_box(api.config)
    if service.find_connection(api.store, box, body.connection_id) is not None:
        raise ConflictError(
            f"Connection {body.connection_id!r} already exists; PATCH it to change it."
        )
    conn = Connection(conn_id=body.connection_id, **body.fields())
    service.save_connection(api.store, box, conn)
    return ConnectionResponse.of(conn)


@router.patch("/{connection_id}")
def patch_connection(
    connection_id: str,
    body: ConnectionBody,
    update_mask: list[str] | None = Query(None),
    api: ApiState = Depends(api_state),
) -> ConnectionResponse:
    """Change a connection's fields (those in update_mask, else all sent).

    A password sent as `***` (as GET shows it) leaves the stored one as it is, and
    so does a value of extra sent as `***`, so a GET's body can be sent back changed.
    """
    if body.connection_id != connection_id:
        raise InvalidInputError(
            f"The body's connection_id {body.connection_id!r} differs from the path's "
            f"{connection_id!r}; connections cannot be renamed."
        )
    box = secret_box(api.config)
    current = service.get_connection(api.store, box, connection_id)
    sent = body.fields()
    wanted = set(update_mask) if update_mask else {_name(f) for f in body.model_fields_set}
    wanted -= {"connection_id"}
    unknown = wanted - _CHANGEABLE
    if unknown:
        raise InvalidInputError(
            f"update_mask names {', '.join(sorted(unknown))}; a connection has "
            f"{', '.join(sorted(_CHANGEABLE))}."
        )
    if sent["password"] == MASK:
        wanted.discard("password")
    if "extra" in wanted:
        sent["extra"] = _restore_masked(sent["extra"], current.extra)
    changed = Connection(
        conn_id=connection_id,
        **{name: sent[name] if name in wanted else getattr(current, name) for name in _CHANGEABLE},
    )
    service.save_connection(api.store, box, changed)
    return ConnectionResponse.of(changed)


@router.delete("/{connection_id}", status_code=204)
def delete_connection(connection_id: str, api: ApiState = Depends(api_state)) -> Response:
    """Delete a connection."""
    service.delete_connection(api.store, connection_id)
    return Response(status_code=204)


def _restore_masked(sent: str | None, current: str | None) -> str | None:
    """`sent` extra with each `***` value (at any depth) put back from the `current` extra."""
    if not sent or not current:
        return sent
    try:
        new, old = json.loads(sent), json.loads(current)
    except json.JSONDecodeError:
        return sent  # checked (and refused) when the connection is saved
    return json.dumps(_restore(new, old))


def _restore(new: Any, old: Any) -> Any:
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    return {
        k: old[k] if v == MASK and k in old else _restore(v, old.get(k)) for k, v in new.items()
    }


def _name(field: str) -> str:
    return "schema" if field == "schema_" else field
