"""The scheduler lease: who schedules against a metastore, known at once when it dies.

PostgreSQL: a session-level advisory lock held on a dedicated connection;
shared by the several schedulers a PostgreSQL metastore allows
(docs/distributed.md); the exclusive form is kept for a caller that must be alone.
SQLite: an exclusive flock on a file beside the database. Both are released
by the operating system or the server the moment the holder's process dies,
so a restarted scheduler knows immediately that every queued or running try
it finds is an orphan, while a second scheduler started next to a live one
is refused instead of resetting that one's tries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, text

from taskkit.errors import SchedulerAlreadyRunningError
from taskkit.metastore.engine import sqlite_path

#: Arbitrary but fixed: the advisory-lock class taskkit schedulers agree on ("tk").
_PG_LOCK_CLASS = 0x746B
#: The lock is per schema, so metastores in different schemas of one database don't collide.
_PG_TRY_LOCK = text("SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))")
_PG_UNLOCK = text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))")
_PG_TRY_SHARED = text("SELECT pg_try_advisory_lock_shared(:cls, hashtext(current_schema()))")
_PG_UNLOCK_SHARED = text("SELECT pg_advisory_unlock_shared(:cls, hashtext(current_schema()))")


@contextlib.contextmanager
def scheduler_lease(engine: Engine, *, shared: bool = False) -> Iterator[None]:
    """Hold the lease for the block; raise SchedulerAlreadyRunningError if it is taken.

    `shared` (PostgreSQL only): schedulers that run side by side share it;
    one that must run alone is refused while they hold it, and they while it does.
    """
    where = engine.url.render_as_string(hide_password=True)
    if engine.url.get_backend_name() == "postgresql":
        lock, unlock = (_PG_TRY_SHARED, _PG_UNLOCK_SHARED) if shared else (_PG_TRY_LOCK, _PG_UNLOCK)
        with engine.connect() as connection:
            # Advisory locks live in the session, outside transactions: commit at once.
            got = connection.execute(lock, {"cls": _PG_LOCK_CLASS}).scalar()
            if got:  # so `lease_holder` can name us
                connection.execute(
                    text("SELECT set_config('application_name', :n, false)"), {"n": _me()}
                )
            connection.commit()
            if not got:
                raise _taken(where, postgresql=True)
            try:
                yield
            finally:
                connection.execute(unlock, {"cls": _PG_LOCK_CLASS})
                connection.commit()
        return
    path = sqlite_path(engine.url)
    if path is None:  # an in-memory database is private to this process anyway
        yield
        return
    lock_file: IO[str] = open(f"{path}.scheduler.lock", "a")  # noqa: SIM115, PTH123
    try:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _taken(where) from None
        lock_file.truncate(0)
        lock_file.write(f"{_me()}\n")
        lock_file.flush()
        yield
    finally:
        lock_file.close()


def lease_holder(engine: Engine) -> str | None:
    """Who holds the lease ("taskkit scheduler on HOST, pid N"), or None if nobody does."""
    if engine.url.get_backend_name() == "postgresql":
        with engine.connect() as connection:
            holder = connection.execute(_PG_HOLDER, {"cls": _PG_LOCK_CLASS}).scalar()
            return None if holder is None else str(holder) or "a taskkit scheduler"
    path = sqlite_path(engine.url)
    if path is None:
        return None
    lock_path = Path(f"{path}.scheduler.lock")
    if not lock_path.exists():
        return None
    with lock_path.open("r") as lock_file:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return lock_file.read().strip() or "a taskkit scheduler"
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
    return None


def _me() -> str:
    return f"taskkit scheduler on {socket.gethostname()}, pid {os.getpid()}"


_PG_HOLDER = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :cls AND l.objsubid = 2 "
    "AND l.objid::bigint = (hashtext(current_schema())::bigint & 4294967295) LIMIT 1"
)


def _taken(where: str, *, postgresql: bool = False) -> SchedulerAlreadyRunningError:
    if postgresql:
        return SchedulerAlreadyRunningError(
            f"Another scheduler is already running against the metastore at {where}, and "
            "this one must run alone (one scheduler per metastore); stop the other one first "
            "(several schedulers share a PostgreSQL metastore otherwise, see "
            "docs/distributed.md)."
        )
    return SchedulerAlreadyRunningError(
        f"Another scheduler is already running against the metastore at {where}; "
        "stop it first (one scheduler per metastore on SQLite; use PostgreSQL to run several)."
    )
