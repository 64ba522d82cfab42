"""Health: is the metastore reachable, is a scheduler alive, which executor, which workers.

A live scheduler is known from the lease it holds (metastore/lease.py's
`lease_holder`: the SQLite lock file's flock, or PostgreSQL's advisory lock),
read without being taken.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy.exc import SQLAlchemyError

from taskkit.execution.celery_health import describe_workers
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
    #: Celery workers as `taskkit celery workers -o json` shows them (lost ones included).
    celery_workers: tuple[dict[str, Any], ...] = ()

    @property
    def status(self) -> str:
        """'healthy' when the metastore answers and a scheduler runs, else 'unhealthy'."""
        return "healthy" if self.metastore_ok and self.scheduler_alive else "unhealthy"


def check_health(store: Metastore, config: Settings, now: dt.datetime | None = None) -> Health:
    """Probe the metastore, the scheduler lease and the workers' heartbeats; never raises."""
    workers: list[dict[str, Any]] = []
    try:
        heartbeat = store.latest_task_heartbeat()
        workers = describe_workers(
            store.list_celery_workers(),
            now=now or dt.datetime.now(dt.timezone.utc),
            lost_after_s=config.scheduler.task_heartbeat_timeout,
        )
        metastore = (True, "reachable")
    except SQLAlchemyError as exc:
        heartbeat = None
        metastore = (False, str(exc).splitlines()[0])
    alive, detail = _scheduler(store) if metastore[0] else (False, "metastore unreachable")
    return Health(
        metastore[0], metastore[1], alive, detail, heartbeat, config.core.executor, tuple(workers)
    )


def _scheduler(store: Metastore) -> tuple[bool, str]:
    try:
        holder = lease_holder(store.engine)
    except SQLAlchemyError as exc:
        return False, str(exc).splitlines()[0]
    return (True, holder) if holder else (False, "no scheduler holds the lease")
