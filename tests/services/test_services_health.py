"""Health: the metastore answers, and a scheduler is alive exactly while it holds the lease."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from taskkit.config import load_settings
from taskkit.metastore import Metastore
from taskkit.metastore.lease import scheduler_lease
from taskkit.model.workers import RunningTry, WorkerReport, WorkerState
from taskkit.services.health import check_health


def test_a_scheduler_is_seen_while_it_holds_the_lease(metastore: Metastore, tmp_path: Path) -> None:
    """Without a scheduler health is unhealthy; while one holds the lease it is healthy."""
    config = load_settings(environ={"TASKKIT_HOME": str(tmp_path)})
    before = check_health(metastore, config)
    assert before.metastore_ok
    assert not before.scheduler_alive
    assert before.status == "unhealthy"
    with scheduler_lease(metastore.engine):
        during = check_health(metastore, config)
    assert during.scheduler_alive, during.scheduler_detail
    assert during.status == "healthy"


def test_celery_workers_are_listed_and_a_silent_one_is_lost(
    metastore: Metastore, tmp_path: Path
) -> None:
    """Health lists each worker's heartbeat; one silent past the threshold shows as lost."""
    config = load_settings(environ={"TASKKIT_HOME": str(tmp_path)})
    beat = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    metastore.save_celery_worker(
        WorkerReport(
            name="taskkit-1@w1",
            hostname="w1",
            pid=1,
            queues=("default", "gpu"),
            concurrency=4,
            autoscale=None,
            running=(RunningTry("d", "r", "t", 1),),
            state=WorkerState.ONLINE,
            started_at=beat,
            last_heartbeat=beat,
        )
    )
    [fresh] = check_health(metastore, config, now=beat + dt.timedelta(seconds=1)).celery_workers
    assert (fresh["name"], fresh["status"], fresh["queues"], fresh["running"]) == (
        "taskkit-1@w1",
        "online",
        ["default", "gpu"],
        1,
    )
    silent = beat + dt.timedelta(seconds=config.scheduler.task_heartbeat_timeout + 1)
    [lost] = check_health(metastore, config, now=silent).celery_workers
    assert lost["status"] == "lost"
