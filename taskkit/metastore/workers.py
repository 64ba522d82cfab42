"""Celery worker health: each worker upserts its heartbeat; readers list them.

This is the one table workers write. It holds no task-instance state (that
stays the scheduler's alone): a worker's write touches only its own row, once
per heartbeat, so it never contends with the scheduler's transactions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from taskkit.metastore.tables import CeleryWorkerRow
from taskkit.metastore.units import UnitOfWork, rowcount, upsert_insert
from taskkit.model.workers import RunningTry, WorkerReport, WorkerState


class WorkerMethods(UnitOfWork):
    """Save and list Celery workers' heartbeats."""

    def save_celery_worker(self, report: WorkerReport) -> None:
        """Insert or replace the worker's row with this report (one statement)."""
        values = {
            "name": report.name,
            "hostname": report.hostname,
            "pid": report.pid,
            "queues": list(report.queues),
            "concurrency": report.concurrency,
            "autoscale": report.autoscale,
            "running": [[t.dag_id, t.run_id, t.task_id, t.try_number] for t in report.running],
            "state": report.state.value,
            "started_at": report.started_at,
            "last_heartbeat": report.last_heartbeat,
        }
        with self._write() as session:
            insert = upsert_insert(session, CeleryWorkerRow.__table__).values(**values)
            changed = {k: v for k, v in values.items() if k != "name"}
            session.execute(insert.on_conflict_do_update(index_elements=["name"], set_=changed))

    def list_celery_workers(self) -> list[WorkerReport]:
        """Every worker's last report, by host then name."""
        query = select(CeleryWorkerRow).order_by(CeleryWorkerRow.hostname, CeleryWorkerRow.name)
        with self._read() as session:
            return [_report(row) for row in session.scalars(query)]

    def forget_celery_workers(self, silent_since: dt.datetime) -> int:
        """Delete the rows of workers whose last heartbeat is older than `silent_since`."""
        with self._write() as session:
            gone = delete(CeleryWorkerRow).where(CeleryWorkerRow.last_heartbeat < silent_since)
            return rowcount(session.execute(gone))


def _report(row: CeleryWorkerRow) -> WorkerReport:
    return WorkerReport(
        name=row.name,
        hostname=row.hostname,
        pid=row.pid,
        queues=tuple(row.queues),
        concurrency=row.concurrency,
        autoscale=row.autoscale,
        running=tuple(RunningTry(str(d), str(r), str(t), int(n)) for d, r, t, n in row.running),
        state=WorkerState(row.state),
        started_at=row.started_at,
        last_heartbeat=row.last_heartbeat,
    )
