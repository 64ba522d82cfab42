"""Worker health as operators see it: online, stopping, stopped, or lost when silent too long."""

from __future__ import annotations

import datetime as dt
import threading

from structlog.testing import capture_logs

from taskkit.execution.celery_health import HealthReporter, describe_workers
from taskkit.model.workers import RunningTry, WorkerReport, WorkerState

T0 = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def _report(state: WorkerState = WorkerState.ONLINE, beat: dt.datetime = T0) -> WorkerReport:
    return WorkerReport(
        name="taskkit-7@h",
        hostname="h",
        pid=7,
        queues=("default",),
        concurrency=3,
        autoscale=None,
        running=(RunningTry("etl", "r1", "load", 1),),
        state=state,
        started_at=T0,
        last_heartbeat=beat,
    )


def test_a_worker_silent_longer_than_the_timeout_is_lost() -> None:
    """Silent for more than lost_after_s: lost; a worker that stopped cleanly stays stopped."""
    assert _report().status(T0 + dt.timedelta(seconds=10), 10.0) is WorkerState.ONLINE
    assert _report().status(T0 + dt.timedelta(seconds=11), 10.0) is WorkerState.LOST
    stopping = _report(WorkerState.STOPPING)
    assert stopping.status(T0 + dt.timedelta(seconds=1), 10.0) is WorkerState.STOPPING
    stopped = _report(WorkerState.STOPPED)
    assert stopped.status(T0 + dt.timedelta(days=1), 10.0) is WorkerState.STOPPED


def test_described_workers_carry_what_operators_need() -> None:
    """Each row has host, queues, concurrency, the running tries and the last heartbeat."""
    [row] = describe_workers([_report()], now=T0 + dt.timedelta(seconds=30), lost_after_s=10)

    assert row["host"] == "h"
    assert row["status"] == "lost"
    assert row["queues"] == ["default"]
    assert row["concurrency"] == 3
    assert row["running"] == 1
    assert row["running_tries"] == ["etl/r1/load#1"]
    assert row["last_heartbeat"] == T0.isoformat()


def test_a_failing_save_is_logged_once_and_never_raised() -> None:
    """A metastore that refuses the heartbeat does not stop the worker: one warning, no error."""
    calls = threading.Semaphore(0)

    def refuse(report: WorkerReport) -> None:
        calls.release()
        raise OSError("database is unreachable")

    reporter = HealthReporter(_report, refuse, interval_s=0.01)
    with capture_logs() as logs:
        reporter.start()
        for _ in range(3):
            assert calls.acquire(timeout=10)
        reporter.stop()

    warnings = [e for e in logs if e["event"] == "celery_worker_health_not_saved"]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0]["error"]


def test_the_reporter_says_stopping_then_stopped() -> None:
    """stopping() is reported promptly by the reporter's thread; stop() leaves a last "stopped"."""
    saved: list[WorkerState] = []
    reported = threading.Event()

    def save(report: WorkerReport) -> None:
        saved.append(report.state)
        if report.state is WorkerState.STOPPING:
            reported.set()

    reporter = HealthReporter(_report, save, interval_s=3600)
    reporter.start()
    reporter.stopping()
    assert reported.wait(10)
    reporter.stop()

    assert saved[0] is WorkerState.ONLINE
    assert saved[-2:] == [WorkerState.STOPPING, WorkerState.STOPPED]
