"""Units of work: one session and one transaction per Metastore method.

Reads start a plain transaction; writes ask for the write lock up front
(BEGIN IMMEDIATE on SQLite, see engine.py), so a method that reads then
writes never fails half-way with "database is locked".
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from taskkit.metastore.engine import WRITE_OPTION


class UnitOfWork:
    """Holds the engine and opens sessions; the Metastore's concept mixins build on it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The engine this store uses (for tests and migrations)."""
        return self._engine

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with (
            self._engine.connect() as connection,
            Session(bind=connection, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with self._engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                yield session

    @contextlib.contextmanager
    def _write_core(self) -> Iterator[Connection]:
        """A write transaction on a bare Core connection, for the scheduler's hot path.

        Same locking as `_write`, without the ORM session's bookkeeping.
        """
        with self._engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection

    @staticmethod
    def _now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE (Session.execute types it as a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount)


def upsert_insert(session: Session, table: Any) -> Any:
    """An INSERT for `table` that supports ON CONFLICT, in the session's dialect.

    Both SQLite and PostgreSQL speak ON CONFLICT; it turns insert races
    between processes into no-ops or updates instead of IntegrityErrors.
    """
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)
