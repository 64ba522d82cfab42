"""Health: is the metastore reachable, is a scheduler alive, which executor is set.

A live scheduler is known from the lease it holds (metastore/lease.py): on
SQLite the pid written in the lock file is alive on this host; on PostgreSQL
its advisory lock is held. Both are read, never taken.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from taskkit.metastore.engine import sqlite_path

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import Metastore

_PG_LOCK_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = :cls AND objid = (hashtext(current_schema()) & 4294967295)::oid"
)


@attrs.frozen
class Health:
    """What the health page and `GET /api/v2/monitor/health` report."""

    metastore_ok: bool
    metastore_detail: str
    scheduler_alive: bool
    scheduler_detail: str
    latest_task_heartbeat: dt.datetime | None
    executor: str

    @property
    def status(self) -> str:
        """'healthy' when the metastore answers and a scheduler runs, else 'unhealthy'."""
        return "healthy" if self.metastore_ok and self.scheduler_alive else "unhealthy"


def check_health(store: Metastore, config: Settings) -> Health:
    """Probe the metastore and the scheduler lease; never raises."""
    try:
        heartbeat = store.latest_task_heartbeat()
        metastore = (True, "reachable")
    except SQLAlchemyError as exc:
        heartbeat = None
        metastore = (False, str(exc).splitlines()[0])
    alive, detail = _scheduler(store) if metastore[0] else (False, "metastore unreachable")
    return Health(metastore[0], metastore[1], alive, detail, heartbeat, config.core.executor)


def _scheduler(store: Metastore) -> tuple[bool, str]:
    engine = store.engine
    if engine.url.get_backend_name() == "postgresql":
        from taskkit.metastore.lease import _PG_LOCK_CLASS

        try:
            with engine.connect() as connection:
                held = connection.execute(_PG_LOCK_HELD, {"cls": _PG_LOCK_CLASS}).scalar()
        except SQLAlchemyError as exc:
            return False, str(exc).splitlines()[0]
        return (True, "holds the lease") if held else (False, "no scheduler holds the lease")
    path = sqlite_path(engine.url)
    if path is None:
        return False, "in-memory metastore"
    try:
        pid_text = path.with_name(path.name + ".scheduler.lock").read_text().strip()
    except OSError:
        return False, "no scheduler has run against this metastore"
    if not pid_text.isdigit():
        return False, "no scheduler holds the lease"
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, f"the last scheduler (pid {pid}) is gone"
    except PermissionError:
        pass
    return True, f"pid {pid}"
