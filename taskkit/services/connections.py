"""Connections: list, read, add, delete, import and export (the CLI, the API and tries call these).

The password and `extra` are encrypted with the installation's Fernet key
before they reach the metastore and decrypted on the way out
(services/fernet.py); the other fields are stored as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskkit import validation
from taskkit.authoring.connections import FIELDS, Connection
from taskkit.errors import ConnectionNotFoundError, ConnectionSpecError, TaskkitError
from taskkit.metastore.secrets import StoredConnection
from taskkit.services.json_files import read_object, write_private

if TYPE_CHECKING:
    from taskkit.metastore import Metastore
    from taskkit.services.fernet import SecretBox

_EXAMPLE = '{"my_db": "postgres://user:pass@host:5432/db", "api": {"conn_type": "http", ...}}'


def checked(conn: Connection) -> Connection:
    """`conn` if it can be stored: a valid id, a conn_type, and an extra that is a JSON object."""
    validation.conn_id(conn.conn_id)
    if not conn.conn_type:
        raise ConnectionSpecError(
            f"Connection {conn.conn_id!r} needs a conn_type (e.g. postgres, http); "
            "give --conn-type or a URI starting with TYPE://."
        )
    if conn.extra:
        try:
            extra = json.loads(conn.extra)
        except json.JSONDecodeError as exc:
            raise ConnectionSpecError(
                f"Connection {conn.conn_id!r}: extra is not valid JSON ({exc}); give a JSON object."
            ) from None
        if not isinstance(extra, dict):
            raise ConnectionSpecError(
                f"Connection {conn.conn_id!r}: extra must be a JSON object, not "
                f"{type(extra).__name__}."
            )
    for name in FIELDS:
        value = getattr(conn, name)
        if name != "port" and value is not None and not isinstance(value, str):
            raise ConnectionSpecError(
                f"Connection {conn.conn_id!r}: {name} must be text, not {type(value).__name__}."
            )
        if isinstance(value, str) and "\x00" in value:
            raise ConnectionSpecError(
                f"Connection {conn.conn_id!r}: {name} must not contain NUL characters."
            )
    return conn


def _sealed(conn: Connection, box: SecretBox) -> StoredConnection:
    checked(conn)
    return StoredConnection(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type or "",
        description=conn.description,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=None if conn.password is None else box.encrypt(conn.password),
        port=conn.port,
        extra=None if conn.extra is None else box.encrypt(conn.extra),
    )


def _plain(stored: StoredConnection, box: SecretBox) -> Connection:
    what = f"connection {stored.conn_id!r}"
    return Connection(
        conn_id=stored.conn_id,
        conn_type=stored.conn_type,
        description=stored.description,
        host=stored.host,
        schema=stored.schema,
        login=stored.login,
        password=None if stored.password is None else box.decrypt(stored.password, what),
        port=stored.port,
        extra=None if stored.extra is None else box.decrypt(stored.extra, what),
    )


def list_connections(
    store: Metastore, box: SecretBox, *, limit: int | None = None, offset: int = 0
) -> tuple[list[Connection], int]:
    """A page of connections by id, and how many there are in all."""
    page = store.list_connections(limit=limit, offset=offset)
    return [_plain(c, box) for c in page], store.count_connections()


def find_connection(store: Metastore, box: SecretBox, conn_id: str) -> Connection | None:
    """One connection, or None."""
    stored = store.get_connection(conn_id)
    return None if stored is None else _plain(stored, box)


def get_connection(store: Metastore, box: SecretBox, conn_id: str) -> Connection:
    """One connection; ConnectionNotFoundError if there is none by that id."""
    found = find_connection(store, box, conn_id)
    if found is None:
        raise ConnectionNotFoundError(conn_id)
    return found


def save_connection(store: Metastore, box: SecretBox, conn: Connection) -> None:
    """Create or replace a connection."""
    store.put_connections([_sealed(conn, box)])


def delete_connection(store: Metastore, conn_id: str) -> None:
    """Delete a connection; ConnectionNotFoundError if there is none by that id."""
    if not store.delete_connection(conn_id):
        raise ConnectionNotFoundError(conn_id)


def read_connections_file(path: Path) -> list[Connection]:
    """A connections file, checked whole: `{"conn_id": URI | {fields}}` (Airflow's JSON)."""
    document = read_object(path, "connections", ConnectionSpecError, _EXAMPLE)
    found = []
    for conn_id, spec in document.items():
        try:
            if not isinstance(spec, (str, dict)):
                raise ConnectionSpecError(
                    f"Connection {conn_id!r}: expected a URI or an object of fields, "
                    f"not {type(spec).__name__}."
                )
            found.append(checked(Connection.from_spec(conn_id, spec)))
        except (TaskkitError, TypeError) as exc:
            raise ConnectionSpecError(f"In connections file {path}: {exc}") from None
    return found


def import_connections(store: Metastore, box: SecretBox, path: Path) -> list[str]:
    """Create or replace every connection in the file, in one transaction; their ids."""
    wanted = read_connections_file(path)
    store.put_connections([_sealed(conn, box) for conn in wanted])
    return [conn.conn_id for conn in wanted]


def export_connections(store: Metastore, box: SecretBox, path: Path) -> int:
    """Write every connection (passwords included) to the file, 0600, as import reads it."""
    document: dict[str, Any] = {
        conn.conn_id: conn.to_dict() for conn in list_connections(store, box)[0]
    }
    write_private(path, document, "connections", ConnectionSpecError)
    return len(document)
