"""Worker health: each Celery worker reports itself every heartbeat; readers see who is alive.

A worker's `HealthReporter` saves a `WorkerReport` (its queues, pool size,
running tries) through a callable the command line gives it (the metastore's
`save_celery_worker`); `describe_workers` turns saved reports into what
`taskkit celery workers`, the REST API and the UI show, marking a worker that
has been silent longer than `scheduler.task_heartbeat_timeout` as lost.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from taskkit.model.workers import WorkerReport, WorkerState

log = structlog.get_logger(__name__)

#: () -> the worker's report now, in the given state.
Snapshot = Callable[[WorkerState], WorkerReport]


class HealthReporter:
    """Saves the worker's report every `interval_s` on its own thread; never fails the worker."""

    def __init__(
        self, snapshot: Snapshot, save: Callable[[WorkerReport], None], interval_s: float
    ) -> None:
        self.snapshot = snapshot
        self.save = save
        self.interval_s = interval_s
        self.state = WorkerState.ONLINE
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="taskkit-health", daemon=True)
        self._failing = False

    def start(self) -> None:
        self.report()
        self._thread.start()

    def report(self) -> None:
        """Save one report now; a failure is logged once until saving works again."""
        try:
            self.save(self.snapshot(self.state))
        except Exception as exc:  # the metastore may be briefly unreachable; tries go on
            if not self._failing:
                log.warning("celery_worker_health_not_saved", error=str(exc))
            self._failing = True
        else:
            self._failing = False

    def stopping(self) -> None:
        """The worker began to shut down: say so now (safe to call from a signal handler)."""
        self.state = WorkerState.STOPPING
        self._wake.set()

    def stop(self) -> None:
        """The worker is exiting: a last report says it stopped cleanly."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.state = WorkerState.STOPPED
        self.report()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.report()


def describe_workers(
    reports: Iterable[WorkerReport], *, now: dt.datetime, lost_after_s: float
) -> list[dict[str, Any]]:
    """JSON-ready rows for every reported worker, with its status as of `now`.

    A worker that did not stop cleanly and sent no heartbeat for
    `lost_after_s` seconds is "lost"; the scheduler handles its tries as
    lost too (they fail after the same timeout and are retried per the task).
    """
    rows = []
    for report in reports:
        rows.append(
            {
                "name": report.name,
                "host": report.hostname,
                "pid": report.pid,
                "status": report.status(now, lost_after_s).value,
                "queues": list(report.queues),
                "concurrency": report.concurrency,
                "autoscale": report.autoscale,
                "running": len(report.running),
                "running_tries": [str(t) for t in report.running],
                "last_heartbeat": report.last_heartbeat.isoformat(),
                "started_at": report.started_at.isoformat(),
            }
        )
    return rows
