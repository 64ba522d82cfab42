"""Celery workers' heartbeats in the metastore: one row per worker, replaced by each beat."""

from __future__ import annotations

import datetime as dt

from taskkit.metastore import Metastore
from taskkit.model.workers import RunningTry, WorkerReport, WorkerState

T0 = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def _report(name: str, *, beat: dt.datetime = T0, **changes: object) -> WorkerReport:
    values: dict[str, object] = {
        "name": name,
        "hostname": "host-1",
        "pid": 42,
        "queues": ("default", "gpu"),
        "concurrency": 4,
        "autoscale": "8,2",
        "running": (RunningTry("etl", "manual__1", "load", 2),),
        "state": WorkerState.ONLINE,
        "started_at": T0,
        "last_heartbeat": beat,
        **changes,
    }
    return WorkerReport(**values)  # type: ignore[arg-type]


def test_a_worker_report_round_trips_and_each_beat_replaces_the_last(metastore: Metastore) -> None:
    """What a worker saves is what readers list; a later beat replaces its row, not adds one."""
    metastore.save_celery_worker(_report("taskkit-42@host-1"))
    assert metastore.list_celery_workers() == [_report("taskkit-42@host-1")]

    later = _report(
        "taskkit-42@host-1",
        beat=T0 + dt.timedelta(seconds=2),
        running=(),
        concurrency=2,
        state=WorkerState.STOPPING,
    )
    metastore.save_celery_worker(later)

    assert metastore.list_celery_workers() == [later]


def test_workers_silent_for_long_are_forgotten(metastore: Metastore) -> None:
    """forget_celery_workers deletes only the rows whose last heartbeat is older than asked."""
    metastore.save_celery_worker(_report("old@host-1", beat=T0 - dt.timedelta(days=2)))
    metastore.save_celery_worker(_report("new@host-1"))

    assert metastore.forget_celery_workers(T0 - dt.timedelta(days=1)) == 1

    assert [r.name for r in metastore.list_celery_workers()] == ["new@host-1"]
