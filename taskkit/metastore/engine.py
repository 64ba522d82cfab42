"""Engine setup: SQLite tuned for several processes, PostgreSQL through psycopg 3.

Engines are not fork-safe: create them after forking (or call
`Metastore.dispose()` in the child before using an inherited one).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from taskkit.errors import ConfigError, MetastoreError

#: Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
WRITE_OPTION = "taskkit_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: A pooled PostgreSQL connection that sat unused longer than this is pinged before use.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "taskkit_idle_since"


def normalize_url(url: str | URL) -> URL:
    """Parse a URL, pointing postgres:// and postgresql:// at the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and others
        raise ConfigError(f"Bad database URL {str(url)!r}: {exc}.") from exc
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"Unsupported database {parsed.drivername!r}: use sqlite:// or postgresql+psycopg://."
        )
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the parent dir and an empty 0600 file, so the DB is private from birth."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise MetastoreError(f"Cannot create the SQLite database {path}: {exc}.") from exc
    os.close(fd)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy: the driver's legacy mode would
    # skip BEGIN for SELECTs and upgrade read locks to write locks mid-way.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front. A deferred one that
    # reads and then writes cannot wait for the lock in WAL mode (SQLITE_BUSY
    # is returned at once, since its snapshot may be stale): "database is locked".
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def create_engine_for(url: str | URL) -> Engine:
    """An Engine for the metastore URL, configured for taskkit's access pattern.

    SQLite: WAL, busy_timeout 30 s, foreign keys on, synchronous NORMAL, and
    BEGIN IMMEDIATE for connections with the `taskkit_write` execution option.
    PostgreSQL: psycopg 3, pinging a connection that sat idle in the pool
    (`_ping_when_idle`), so a restarted server costs no errors.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed)
        _ping_when_idle(engine)
        return engine
    path = sqlite_path(parsed)
    if path is not None:
        _prepare_sqlite_file(path)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle longer than PING_AFTER_IDLE_S.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: a round trip to the
    server before each of the scheduler's transactions, ~0.25 ms of every
    write on its hot path (docs/performance.md). A server restart or a
    dropped connection shows on connections that waited in the pool, which
    are still pinged and replaced; one that fails within a second of its
    last use fails its statement, which the scheduler retries like any
    failed write.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_S:
            return  # new, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError(str(exc)) from exc  # the pool tries another connection
            raise
