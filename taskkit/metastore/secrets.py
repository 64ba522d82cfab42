"""Variables and connections as stored: their secret parts arrive here already encrypted.

The metastore never sees a plain password or variable value: services
encrypt before writing and decrypt after reading (services/fernet.py).
A batch of puts is one transaction, so an import applies whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from sqlalchemy import delete, func, select

from taskkit.metastore.tables import ConnectionRow, VariableRow
from taskkit.metastore.units import UnitOfWork, rowcount, upsert_insert


@attrs.frozen
class StoredVariable:
    """A variable as stored: `value` is ciphertext."""

    key: str
    value: str = attrs.field(repr=False)
    description: str | None = None


@attrs.frozen
class StoredConnection:
    """A connection as stored: `password` and `extra` are ciphertext (or None)."""

    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    port: int | None = None
    extra: str | None = attrs.field(default=None, repr=False)


_CONNECTION_FIELDS = [f.name for f in attrs.fields(StoredConnection)]


class SecretMethods(UnitOfWork):
    """Variable and connection CRUD; values stay ciphertext here."""

    def list_variables(self, *, limit: int | None = None, offset: int = 0) -> list[StoredVariable]:
        """Variables by key, a page of them when `limit` is given."""
        query = select(VariableRow).order_by(VariableRow.key).offset(offset).limit(limit)
        with self._read() as session:
            return [StoredVariable(r.key, r.val, r.description) for r in session.scalars(query)]

    def count_variables(self) -> int:
        """How many variables there are."""
        with self._read() as session:
            return int(session.scalar(select(func.count()).select_from(VariableRow)) or 0)

    def get_variable(self, key: str) -> StoredVariable | None:
        """One variable, or None."""
        with self._read() as session:
            row = session.get(VariableRow, key)
            return None if row is None else StoredVariable(row.key, row.val, row.description)

    def put_variables(self, variables: Sequence[StoredVariable]) -> None:
        """Create or replace each variable, all in one transaction."""
        if not variables:
            return
        with self._write() as session:
            for var in variables:
                query = upsert_insert(session, VariableRow).values(
                    key=var.key, val=var.value, description=var.description
                )
                session.execute(
                    query.on_conflict_do_update(
                        index_elements=["key"],
                        set_={"val": query.excluded.val, "description": query.excluded.description},
                    )
                )

    def delete_variable(self, key: str) -> bool:
        """Delete a variable; whether it existed."""
        with self._write() as session:
            return bool(
                rowcount(session.execute(delete(VariableRow).where(VariableRow.key == key)))
            )

    def list_connections(
        self, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredConnection]:
        """Connections by id, a page of them when `limit` is given."""
        query = select(ConnectionRow).order_by(ConnectionRow.conn_id).offset(offset).limit(limit)
        with self._read() as session:
            return [_stored(row) for row in session.scalars(query)]

    def count_connections(self) -> int:
        """How many connections there are."""
        with self._read() as session:
            return int(session.scalar(select(func.count()).select_from(ConnectionRow)) or 0)

    def get_connection(self, conn_id: str) -> StoredConnection | None:
        """One connection, or None."""
        with self._read() as session:
            row = session.get(ConnectionRow, conn_id)
            return None if row is None else _stored(row)

    def put_connections(self, connections: Sequence[StoredConnection]) -> None:
        """Create or replace each connection, all in one transaction."""
        if not connections:
            return
        with self._write() as session:
            for conn in connections:
                values = attrs.asdict(conn)
                query = upsert_insert(session, ConnectionRow).values(**values)
                keep = {name: getattr(query.excluded, name) for name in values if name != "conn_id"}
                session.execute(query.on_conflict_do_update(index_elements=["conn_id"], set_=keep))

    def delete_connection(self, conn_id: str) -> bool:
        """Delete a connection; whether it existed."""
        with self._write() as session:
            deleted = session.execute(delete(ConnectionRow).where(ConnectionRow.conn_id == conn_id))
            return bool(rowcount(deleted))


def _stored(row: ConnectionRow) -> StoredConnection:
    return StoredConnection(**{name: getattr(row, name) for name in _CONNECTION_FIELDS})
