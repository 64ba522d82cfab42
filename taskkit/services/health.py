"""Health: is the metastore reachable, is a scheduler alive, which executor is set.

A live scheduler is known from the lease it holds (metastore/lease.py's
`lease_holder`: the SQLite lock file's flock, or PostgreSQL's advisory lock),
read without being taken.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs
from sqlalchemy.exc import SQLAlchemyError

from taskkit.metastore.lease import lease_holder

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import Metastore


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
    try:
        holder = lease_holder(store.engine)
    except SQLAlchemyError as exc:
        return False, str(exc).splitlines()[0]
    return (True, holder) if holder else (False, "no scheduler holds the lease")
