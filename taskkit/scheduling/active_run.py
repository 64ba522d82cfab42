"""The scheduler's in-memory view of one active run: its identity and its run engine.

The metastore stays the source of truth: an ActiveRun is loaded from it and
every transition its engine makes is written back (conditionally) in the
same loop iteration, before anything acts on it. Keeping the view in memory
means a finished try re-evaluates only its direct downstream tasks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs

from taskkit.authoring.context import DagRunInfo
from taskkit.execution.base import PreviousSuccess
from taskkit.execution.tasklog import log_path
from taskkit.execution.workload import Workload
from taskkit.model.dag import DagSpec
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.engine import RunEngine
from taskkit.scheduling.selection import Candidate


def run_order(logical_date: dt.datetime, run_pk: int) -> int:
    """Sort key of a run: older logical date first (as Airflow orders), then creation order.

    A backfill created today for last year runs before today's run, which a
    creation-order key alone would get backwards. Python ints are exact, so
    the two parts pack into one number without overflow.
    """
    micros = (logical_date - _EPOCH) // dt.timedelta(microseconds=1)
    return (micros << 40) + run_pk


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@attrs.define
class ActiveRun:
    """A running (or queued) DAG run: its identity, its DAG version and its run engine."""

    id: int
    dag_id: str
    run_id: str
    dag_version_id: int
    logical_date: dt.datetime
    conf: dict[str, Any]
    run_type: str
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    engine: RunEngine
    #: The run before this one (dag_id, run_id), when its tasks depend on the past.
    previous: tuple[str, str] | None = None
    #: The schedule point before this run's logical date, unless it was triggered by hand:
    #: Airflow 2's `prev_execution_date` (Timetable.previous_point).
    previous_point: dt.datetime | None = None

    @property
    def spec(self) -> DagSpec:
        return self.engine.spec

    def key(self, task_id: str, map_index: int = -1) -> TaskInstanceKey:
        return TaskInstanceKey(self.dag_id, self.run_id, task_id, map_index)

    def candidate(self, task_id: str, dag_limit: int | None, map_index: int = -1) -> Candidate:
        spec = self.spec.tasks[task_id]
        return Candidate(
            key=self.key(task_id, map_index),
            priority=spec.priority_weight_total,
            pool=spec.pool,
            pool_slots=spec.pool_slots,
            run_order=run_order(self.logical_date, self.id),
            max_active_tis_per_dag=spec.max_active_tis_per_dag,
            dag_max_active_tasks=dag_limit,
            max_active_tis_per_dagrun=spec.max_active_tis_per_dagrun,
        )

    def workload(
        self,
        task_id: str,
        logs_folder: Path,
        map_index: int = -1,
        previous_success: PreviousSuccess | None = None,
    ) -> Workload:
        """Everything a worker needs for the instance's current try."""
        ti = self.engine.tis[task_id, map_index]
        timeout = self.spec.tasks[task_id].execution_timeout
        return Workload(
            key=self.key(task_id, map_index),
            try_number=ti.try_number,
            max_tries=ti.max_tries,
            dag_version_id=self.dag_version_id,
            logical_date=self.logical_date,
            conf=self.conf,
            run_type=self.run_type,
            log_path=str(
                log_path(
                    logs_folder,
                    self.dag_id,
                    self.run_id,
                    task_id,
                    ti.try_number,
                    map_index=map_index,
                )
            ),
            upstream_xcoms=self.engine.xcoms_for(task_id, map_index),
            execution_timeout_s=timeout.total_seconds() if timeout is not None else None,
            data_interval_start=self.data_interval_start,
            data_interval_end=self.data_interval_end,
            first_poke_at=ti.first_poke_at,
            next_method=ti.next_method,
            next_kwargs=ti.next_kwargs,
            previous_success=previous_success,
            previous_point=self.previous_point,
        )

    def run_info(self, previous: PreviousSuccess) -> DagRunInfo:
        """What the DAG's callbacks are told about this run (and its previous success)."""
        return DagRunInfo(
            self.dag_id,
            self.run_id,
            self.logical_date,
            self.conf,
            self.run_type,
            self.data_interval_start,
            self.data_interval_end,
            previous_point=self.previous_point,
            **previous.run_info_fields(),
        )
