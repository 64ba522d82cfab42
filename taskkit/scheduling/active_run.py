"""The scheduler's in-memory view of one active run: task states, tries and upstream values.

The metastore stays the source of truth: an ActiveRun is loaded from it and
every change the scheduler makes here is written back (conditionally) in the
same loop iteration, before anything acts on it. Keeping the view in memory
means a finished try re-evaluates only its direct downstream tasks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs

from taskkit.execution.base import Workload
from taskkit.execution.tasklog import log_path
from taskkit.model.dag import DagSpec
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.readiness import Readiness, task_readiness
from taskkit.scheduling.selection import Candidate
from taskkit.states import FINISHED_STATES, State

_DECIDED = {Readiness.SKIP: State.SKIPPED, Readiness.UPSTREAM_FAILED: State.UPSTREAM_FAILED}


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
class TaskState:
    """One task instance as the scheduler tracks it."""

    state: State
    try_number: int
    max_tries: int
    next_retry_at: dt.datetime | None = None


@attrs.define
class ActiveRun:
    """A running (or queued) DAG run and the version of the DAG it executes."""

    id: int
    dag_id: str
    run_id: str
    dag_version_id: int
    spec: DagSpec
    logical_date: dt.datetime
    conf: dict[str, Any]
    run_type: str
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    tasks: dict[str, TaskState]
    #: Values of finished tasks that have downstream tasks: task_id -> key -> value.
    xcoms: dict[str, dict[str, Any]] = attrs.Factory(dict)
    dirty: set[str] = attrs.Factory(set)  #: NONE tasks whose upstream changed
    #: Tasks not finished yet; kept as a count so "is the run over?" costs nothing per loop.
    unfinished: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.unfinished = sum(ti.state not in FINISHED_STATES for ti in self.tasks.values())

    def key(self, task_id: str) -> TaskInstanceKey:
        return TaskInstanceKey(self.dag_id, self.run_id, task_id)

    def states(self) -> dict[str, State]:
        return {task_id: ti.state for task_id, ti in self.tasks.items()}

    def mark_all_dirty(self) -> None:
        self.dirty = {t for t, ti in self.tasks.items() if ti.state is State.NONE}

    def decide_ready(self) -> list[tuple[str, State]]:
        """Move dirty NONE tasks whose trigger rule is decided; returns (task_id, new state).

        Skips and upstream failures cascade to their own downstream tasks in
        the same call, so a failure settles a whole branch at once.
        """
        changed: list[tuple[str, State]] = []
        pending = list(self.dirty)
        self.dirty.clear()
        states = _StateView(self.tasks)
        while pending:
            task_id = pending.pop()
            ti = self.tasks[task_id]
            if ti.state is not State.NONE:
                continue
            spec = self.spec.tasks[task_id]
            readiness = task_readiness(spec, states)
            if readiness is Readiness.WAIT:
                continue
            ti.state = State.SCHEDULED if readiness is Readiness.READY else _DECIDED[readiness]
            changed.append((task_id, ti.state))
            if ti.state is not State.SCHEDULED:
                self.unfinished -= 1
                pending.extend(spec.downstream)
        return changed

    def finish(self, task_id: str, state: State) -> None:
        """Record a finished task and mark its downstream tasks for re-evaluation."""
        ti = self.tasks[task_id]
        if state in FINISHED_STATES and ti.state not in FINISHED_STATES:
            self.unfinished -= 1
            self.dirty.update(self.spec.tasks[task_id].downstream)
        ti.state = state

    def candidate(self, task_id: str, dag_limit: int | None) -> Candidate:
        spec = self.spec.tasks[task_id]
        return Candidate(
            key=self.key(task_id),
            priority=spec.priority_weight_total,
            pool=spec.pool,
            pool_slots=spec.pool_slots,
            run_order=run_order(self.logical_date, self.id),
            max_active_tis_per_dag=spec.max_active_tis_per_dag,
            dag_max_active_tasks=dag_limit,
        )

    def workload(self, task_id: str, logs_folder: Path) -> Workload:
        """Everything a worker needs for the task's current try."""
        ti = self.tasks[task_id]
        timeout = self.spec.tasks[task_id].execution_timeout
        return Workload(
            key=self.key(task_id),
            try_number=ti.try_number,
            max_tries=ti.max_tries,
            dag_version_id=self.dag_version_id,
            logical_date=self.logical_date,
            conf=self.conf,
            run_type=self.run_type,
            log_path=str(log_path(logs_folder, self.dag_id, self.run_id, task_id, ti.try_number)),
            upstream_xcoms=self.upstream_xcoms(task_id),
            execution_timeout_s=timeout.total_seconds() if timeout is not None else None,
            data_interval_start=self.data_interval_start,
            data_interval_end=self.data_interval_end,
        )

    def upstream_xcoms(self, task_id: str) -> dict[tuple[str, str], Any]:
        """The values of the task's direct upstream tasks, to send with its workload."""
        upstream = self.spec.tasks[task_id].upstream
        return {
            (task, key): value
            for task in upstream
            for key, value in self.xcoms.get(task, {}).items()
        }

    def keep_xcom(self, task_id: str, key: str, value: Any) -> None:
        """Remember a value for the task's downstream workloads."""
        self.xcoms.setdefault(task_id, {})[key] = value


class _StateView(dict[str, State]):
    """A read-only State mapping over TaskState objects, without copying them."""

    def __init__(self, tasks: dict[str, TaskState]) -> None:
        super().__init__()
        self._tasks = tasks

    def get(self, key: str, default: Any = None) -> Any:
        ti = self._tasks.get(key)
        return default if ti is None else ti.state

    def __getitem__(self, key: str) -> State:
        return self._tasks[key].state
