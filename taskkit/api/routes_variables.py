"""/api/v2/variables: list, get, create, update, delete (admins only, values redacted)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from taskkit.api import auth
from taskkit.api.schemas_secrets import (
    VariableBody,
    VariableCollectionResponse,
    VariablePatchBody,
    VariableResponse,
)
from taskkit.api.state import ApiState, api_state
from taskkit.errors import ConflictError, InvalidInputError
from taskkit.services import variables as service
from taskkit.services.dags import MAX_PAGE
from taskkit.services.fernet import secret_box

router = APIRouter(prefix="/api/v2/variables", tags=["Variable"], dependencies=[auth.admin])


@router.get("")
def list_variables(
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0),
    api: ApiState = Depends(api_state),
) -> VariableCollectionResponse:
    """A page of variables by key, with how many there are in all."""
    page, total = service.list_variables(
        api.store, secret_box(api.config), limit=limit, offset=offset
    )
    return VariableCollectionResponse(
        variables=[VariableResponse.of(v) for v in page], total_entries=total
    )


@router.get("/{variable_key}")
def get_variable(variable_key: str, api: ApiState = Depends(api_state)) -> VariableResponse:
    """One variable."""
    return VariableResponse.of(
        service.get_variable(api.store, secret_box(api.config), variable_key)
    )


@router.post("", status_code=201)
def create_variable(body: VariableBody, api: ApiState = Depends(api_state)) -> VariableResponse:
    """Create a variable; 409 if one by that key exists."""
    box = secret_box(api.config)
    if service.find_variable(api.store, box, body.key) is not None:
        raise ConflictError(f"Variable {body.key!r} already exists; PATCH it to change it.")
    service.set_variable(api.store, box, body.key, body.text(), body.description)
    return VariableResponse.of(service.get_variable(api.store, box, body.key))


@router.patch("/{variable_key}")
def patch_variable(
    variable_key: str,
    body: VariablePatchBody,
    update_mask: list[str] | None = Query(None),
    api: ApiState = Depends(api_state),
) -> VariableResponse:
    """Change a variable's value and/or description (those in update_mask, else those sent)."""
    if body.key is not None and body.key != variable_key:
        raise InvalidInputError(
            f"The body's key {body.key!r} differs from the path's {variable_key!r}; "
            "variables cannot be renamed (create the new key, delete the old one)."
        )
    box = secret_box(api.config)
    current = service.get_variable(api.store, box, variable_key)
    fields = set(update_mask) if update_mask else body.model_fields_set - {"key"}
    unknown = fields - {"value", "description"}
    if unknown:
        raise InvalidInputError(
            f"update_mask names {', '.join(sorted(unknown))}; only value and description change."
        )
    value = current.value
    if "value" in fields:
        if body.value is None:
            raise InvalidInputError("A variable's value cannot be null; send a value.")
        value = VariableBody(key=variable_key, value=body.value).text()
    description = body.description if "description" in fields else current.description
    service.set_variable(api.store, box, variable_key, value, description)
    return VariableResponse.of(service.get_variable(api.store, box, variable_key))


@router.delete("/{variable_key}", status_code=204)
def delete_variable(variable_key: str, api: ApiState = Depends(api_state)) -> Response:
    """Delete a variable."""
    service.delete_variable(api.store, variable_key)
    return Response(status_code=204)
