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

from sqlalchemy import Connection, CursorResult, Engine, Result, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from taskkit.errors import SchedulerFencedError
from taskkit.metastore.engine import WRITE_OPTION

#: The fence: a write of a scheduler commits only while its row says it is alive, and
#: stamps its heartbeat; the row lock it takes orders it against whoever reaps it.
_FENCE_SQL = "UPDATE scheduler SET heartbeat_at = %(now)s WHERE id = %(me)s AND state = 'alive'"
_FENCE = text(_FENCE_SQL.replace("%(now)s", ":now").replace("%(me)s", ":me"))


class UnitOfWork:
    """Holds the engine and opens sessions; the Metastore's concept mixins build on it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: Set by `fence_writes`: every write then checks this scheduler is still alive.
        self._fence_id: int | None = None

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
                self._check_fence(session.connection())
                yield session

    @contextlib.contextmanager
    def _write_core(self, *, pipelined: bool = False) -> Iterator[Connection]:
        """A write transaction on a bare Core connection, for the scheduler's hot path.

        Same locking as `_write`, without the ORM session's bookkeeping. With
        `pipelined` the body's first block is `_fenced_pipeline`, which begins
        the transaction and fences it along with its own statements.
        """
        with self._engine.connect() as connection:
            options: dict[str, Any] = {WRITE_OPTION: True}
            if pipelined and connection.dialect.name == "postgresql":
                # psycopg would send a BEGIN of its own and wait for it: the pipeline sends one.
                options["isolation_level"] = "AUTOCOMMIT"
            connection.execution_options(**options)
            with connection.begin():
                if not pipelined:
                    self._check_fence(connection)
                yield connection

    @contextlib.contextmanager
    def _fenced_pipeline(self, connection: Connection) -> Iterator[None]:
        """BEGIN and the fence, then the block's statements, sent to the database together.

        Each round trip to PostgreSQL costs a scheduler's hot write ~0.25 ms,
        and psycopg waits for each statement, and for its own BEGIN even in a
        pipeline. Here the connection is left in autocommit mode
        (`_write_core(pipelined=True)`), and `begun_pipeline` sends BEGIN, the
        fence and the block's statements, then waits once: one round trip
        where there were four (docs/performance.md). The fence's count is read
        as the block ends, so a fenced scheduler's changes roll back before
        anything else runs or commits. On PostgreSQL the block may run only
        `DriverBatch` statements: SQLAlchemy reads a result at once, which a
        pipeline defers. Elsewhere the fence simply comes first.
        """
        if connection.dialect.name != "postgresql":
            self._check_fence(connection)
            with driver_errors(connection):
                yield
            return
        with driver_errors(connection), psycopg_of(connection).cursor() as fence:
            with begun_pipeline(connection, fence):
                if self._fence_id is not None:
                    fence.execute(_FENCE_SQL, {"now": self._now(), "me": self._fence_id})
                yield
            if self._fence_id is not None and not fence.rowcount:
                raise SchedulerFencedError(self._fence_id)

    def fence_writes(self, scheduler_id: int, idle_limit_s: float) -> None:
        """From now on, every write of this store first proves `scheduler_id` is alive.

        A write whose scheduler was declared dead raises SchedulerFencedError
        and rolls back, so a scheduler that was paused past its threshold can
        never commit the state it had before (docs/distributed.md).
        """
        self._fence_id = scheduler_id
        if self._engine.dialect.name == "postgresql":
            # A scheduler paused inside a transaction (SIGSTOP, a frozen VM) must not hold
            # its row and advisory locks forever: the server ends such a session after the
            # threshold. Set once per connection; pooled ones opened before are dropped.
            option = f"-c idle_in_transaction_session_timeout={max(int(idle_limit_s * 1000), 1)}"

            @event.listens_for(self._engine, "do_connect")
            def _idle_limit(dialect: Any, record: Any, args: Any, kwargs: dict[str, Any]) -> None:
                kwargs["options"] = f"{kwargs.get('options', '')} {option}".strip()

            self._engine.dispose()

    def _check_fence(self, connection: Connection) -> None:
        if self._fence_id is None:
            return
        alive = connection.execute(_FENCE, {"now": self._now(), "me": self._fence_id})
        if not cast(CursorResult[Any], alive).rowcount:
            raise SchedulerFencedError(self._fence_id)

    @staticmethod
    def _now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


@contextlib.contextmanager
def begun_pipeline(connection: Connection, cursor: Any) -> Iterator[None]:
    """A BEGIN on `cursor`, then the block's statements, sent to PostgreSQL together.

    psycopg sends BEGIN in a round trip of its own, in a pipeline too. The
    connection must be left in autocommit mode (`isolation_level="AUTOCOMMIT"`,
    then `begin()`) so that psycopg begins nothing itself; the transaction is
    the server's from this BEGIN, and the connection's commit or rollback ends
    it. The statements' results can be read once the block has ended.
    """
    driver = psycopg_of(connection)
    if not driver.autocommit:  # psycopg would begin a transaction of its own
        raise RuntimeError("a begun pipeline needs a connection in autocommit mode")
    with driver.pipeline():
        cursor.execute("BEGIN")
        yield


def psycopg_of(connection: Connection) -> Any:
    """The psycopg connection under a SQLAlchemy one: pipelines are psycopg's own."""
    return connection.connection.driver_connection


@contextlib.contextmanager
def driver_errors(connection: Connection) -> Iterator[None]:
    """The driver's errors in the block raised as SQLAlchemy raises its own.

    Statements run straight on the driver (pipelines, `DriverBatch`) would
    otherwise raise psycopg's or sqlite3's exceptions. The scheduler retries
    a write that failed with SQLAlchemy's OperationalError (a server restart,
    a full disk); any other exception would end it with a traceback.
    """
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=connection.dialect) from exc


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
