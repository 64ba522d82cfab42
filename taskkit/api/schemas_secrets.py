"""Bodies of /api/v2/variables and /api/v2/connections, in Airflow 3's shapes.

Nothing secret leaves the server in plain text: a password is always `***`,
and so is a variable's value (or a value inside its JSON, or inside a
connection's extra) under a key that looks secret, as Airflow redacts them.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from taskkit.authoring.connections import Connection
from taskkit.authoring.masking import MASK, should_mask
from taskkit.services.variables import VariableView


def redacted(value: Any) -> Any:
    """A decoded JSON value with what sits under secret-looking keys replaced by ***."""
    if isinstance(value, dict):
        return {k: MASK if should_mask(str(k)) else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def _redacted_text(text: str) -> str:
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(decoded, (dict, list)):
        return text
    return json.dumps(redacted(decoded))


class VariableResponse(BaseModel):
    """A variable; its value is *** when its key looks secret."""

    key: str
    value: str
    description: str | None
    is_encrypted: bool = True

    @classmethod
    def of(cls, var: VariableView) -> VariableResponse:
        """From the service's view, redacted."""
        value = MASK if var.is_sensitive else _redacted_text(var.value)
        return cls(key=var.key, value=value, description=var.description)


class VariableCollectionResponse(BaseModel):
    """GET /api/v2/variables."""

    variables: list[VariableResponse]
    total_entries: int


class VariableBody(BaseModel):
    """POST /api/v2/variables; PATCH takes the same fields, each optional."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=250)
    #: Any JSON value; one that is not a string is stored as its JSON text, as in Airflow.
    value: JsonValue
    description: str | None = None

    def text(self) -> str:
        """The value as stored."""
        return self.value if isinstance(self.value, str) else json.dumps(self.value, indent=2)


class VariablePatchBody(BaseModel):
    """PATCH /api/v2/variables/{key}: the fields to change."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=250)
    value: JsonValue = None
    description: str | None = None


class ConnectionResponse(BaseModel):
    """A connection; its password is *** when it has one, and extra's secrets too."""

    connection_id: str
    conn_type: str
    description: str | None
    host: str | None
    login: str | None
    schema_: str | None = Field(alias="schema")
    port: int | None
    password: str | None
    extra: str | None

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, conn: Connection) -> ConnectionResponse:
        """From the connection, redacted."""
        return cls(
            connection_id=conn.conn_id,
            conn_type=conn.conn_type or "",
            description=conn.description,
            host=conn.host,
            login=conn.login,
            schema=conn.schema,
            port=conn.port,
            password=None if conn.password is None else MASK,
            extra=None if conn.extra is None else _redacted_text(conn.extra),
        )


class ConnectionCollectionResponse(BaseModel):
    """GET /api/v2/connections."""

    connections: list[ConnectionResponse]
    total_entries: int


class ConnectionBody(BaseModel):
    """POST /api/v2/connections; PATCH takes the same fields (see update_mask)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    connection_id: str = Field(max_length=250)
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None

    def fields(self) -> dict[str, Any]:
        """The connection's fields by Connection's names."""
        return {
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "login": self.login,
            "schema": self.schema_,
            "port": self.port,
            "password": self.password,
            "extra": self.extra,
        }
