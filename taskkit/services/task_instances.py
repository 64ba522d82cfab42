"""Task instances: listing, clearing, marking, and why one is not running yet."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from taskkit.errors import InvalidInputError, TaskNotFoundError
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.rerun import select_tasks, tries_of
from taskkit.scheduling.transitions import reschedule_reason
from taskkit.services.dags import EVERY
from taskkit.services.marker_clearing import RunToClear, plan_from_run
from taskkit.states import FINISHED_STATES, RunState, State

if TYPE_CHECKING:
    from taskkit.metastore import DagRecord, Metastore, RunRecord, TaskInstanceRecord
    from taskkit.model.dag import DagSpec
    from taskkit.services.dag_versions import DagVersions
    from taskkit.services.dags import Page


def list_task_instances(store: Metastore, dag_id: str, run_id: str) -> list[TaskInstanceRecord]:
    """The run's task instances by task_id; DagNotFoundError or RunNotFoundError if unknown."""
    store.get_dag(dag_id)
    store.get_run(dag_id, run_id)
    return store.list_task_instances(dag_id, run_id)


def page_task_instances(
    store: Metastore,
    dag_id: str,
    run_id: str,
    page: Page,
    *,
    states: Collection[State] = (),
    pools: Collection[str] = (),
) -> tuple[list[TaskInstanceRecord], int]:
    """One page of a run's task instances and the total; `~` for the DAG or the run means
    every one. DagNotFoundError or RunNotFoundError for a named one that is unknown."""
    if dag_id != EVERY:
        store.get_dag(dag_id)
        if run_id != EVERY:
            store.get_run(dag_id, run_id)
    return store.page_task_instances(
        None if dag_id == EVERY else dag_id,
        None if run_id == EVERY else run_id,
        limit=page.limit,
        offset=page.offset,
        states=states,
        pools=pools,
    )


def get_task_instance(
    store: Metastore, dag_id: str, run_id: str, task_id: str, map_index: int | None = None
) -> TaskInstanceRecord:
    """One task instance; TaskNotFoundError if the run has no such task (or instance).

    Without `map_index`, a mapped task's first instance (an unmapped task's only one).
    """
    store.get_dag(dag_id)
    store.get_run(dag_id, run_id)
    if map_index is None:
        found = next(
            (t for t in store.list_task_instances(dag_id, run_id) if t.task_id == task_id), None
        )
    else:
        found = store.get_task_instance(TaskInstanceKey(dag_id, run_id, task_id, map_index))
    if found is None:
        instance = "" if map_index is None else f" instance {map_index}"
        raise TaskNotFoundError(
            f"Run {run_id!r} of DAG {dag_id!r} has no task {task_id!r}{instance}."
        )
    return found


def rendered_fields(
    store: Metastore, ti: TaskInstanceRecord, try_number: int | None = None
) -> dict[str, Any]:
    """The template fields as a try (default: the current one) rendered them; {} if none."""
    key = TaskInstanceKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    return store.get_rendered_fields(key).get(try_number or ti.try_number, {})


def choose_tasks(
    spec: DagSpec,
    *,
    task_ids: Sequence[str] = (),
    task_regex: str | None = None,
    downstream: bool = False,
) -> list[str]:
    """Task ids named (or matching `task_regex`), plus all their descendants with `downstream`.

    Neither given means every task. Raises TaskNotFoundError for an unknown
    id and InvalidInputError for a bad regular expression.
    """
    if task_ids:
        unknown = [t for t in task_ids if t not in spec.tasks]
        if unknown:
            raise TaskNotFoundError(
                f"DAG {spec.dag_id!r} has no task {unknown[0]!r}; "
                f"its tasks are {', '.join(spec.tasks)}."
            )
        pattern = "^(" + "|".join(re.escape(t) for t in task_ids) + ")$"
        return select_tasks(spec, pattern, downstream=downstream)
    try:
        return select_tasks(spec, task_regex, downstream=downstream)
    except re.error as exc:
        raise InvalidInputError(f"task regex {task_regex!r}: {exc}") from None


def plan_clear(
    store: Metastore, versions: DagVersions, dag_id: str, run_id: str, chosen: list[str]
) -> list[RunToClear]:
    """What clearing the chosen tasks of the run clears: this run's, then other DAGs' runs
    reached through ExternalTaskMarker (services/marker_clearing)."""
    return plan_from_run(store, versions, store.get_run(dag_id, run_id), chosen)


def clear_planned(store: Metastore, plan: list[RunToClear]) -> int:
    """Reset the planned task instances so the scheduler runs each as a new try; how many.

    Each run is cleared in one transaction, in the plan's order.
    """
    return sum(
        store.clear_task_instances(
            step.run.dag_id, step.run.run_id, tries_of(step.dag.spec, list(step.task_ids))
        )
        for step in plan
    )


def clear(
    store: Metastore, versions: DagVersions, dag_id: str, run_id: str, chosen: list[str]
) -> int:
    """Clear the chosen task instances, and what their markers reach; how many."""
    return clear_planned(store, plan_clear(store, versions, dag_id, run_id, chosen))


class MarkState(str, enum.Enum):
    """The states a task instance may be marked with by hand."""

    SUCCESS = "success"
    FAILED = "failed"


def mark(
    store: Metastore, dag_id: str, run_id: str, chosen: list[str], state: MarkState
) -> list[str]:
    """Mark the chosen task instances success or failed; the task_ids that changed."""
    return store.mark_task_instances(dag_id, run_id, chosen, State(state.value))


def _short(text: str, limit: int = 100) -> str:
    """A reason on one line: its first line, cut at `limit` characters."""
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[: limit - 3] + "..."


def _at(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "an unknown time"


def _deferred(store: Metastore, ti: TaskInstanceRecord) -> str:
    """Why a deferred task waits: its trigger, and which slots it holds (ADR 0009)."""
    waits = ti.wait_reason or "deferred: waiting for its trigger to fire in the triggerer"
    pool = next((p for p in store.list_pools() if p.name == ti.pool), None)
    held = (
        f"holds {ti.pool_slots} slot(s) of pool {ti.pool!r} (the pool includes deferred tasks)"
        if pool is not None and pool.include_deferred
        else f"holds no worker, parallelism or pool slot (pool {ti.pool!r} excludes deferred)"
    )
    return f"{waits}; try {ti.try_number} resumes when it fires; {held}"


def explain(
    store: Metastore,
    spec_of_run: Callable[[], DagSpec],
    dag: DagRecord,
    run: RunRecord,
    ti: TaskInstanceRecord,
) -> str:
    """In one line, why the task instance is not running (yet), as `tasks why` says it.

    `spec_of_run()` (the run's DAG version) is called only to name
    unfinished upstream tasks.
    """
    state = ti.state
    if state in FINISHED_STATES:
        reason = f": {_short(ti.error, 300)}" if ti.error and state is not State.SUCCESS else ""
        return f"finished: {state}{reason}"
    if state is State.RUNNING:
        where = f" (pid {ti.pid} on {ti.hostname})" if ti.pid else ""
        return f"running since {_at(ti.started_at)}{where}, try {ti.try_number}"
    if state is State.QUEUED:
        return f"queued since {_at(ti.queued_at)}: handed to the executor, about to start"
    if state is State.UP_FOR_RETRY:
        failed = f": {_short(ti.error)}" if ti.error else ""
        return (
            f"waiting for retry until {_at(ti.next_retry_at)} "
            f"(try {ti.try_number} of {ti.max_tries} failed{failed})"
        )
    if state is State.UP_FOR_RESCHEDULE:
        since = f", poking since {_at(ti.first_poke_at)}" if ti.first_poke_at else ""
        return f"{reschedule_reason(ti.next_retry_at)} (try {ti.try_number}{since})"
    if state is State.DEFERRED:
        return _deferred(store, ti)
    if dag.is_paused:
        return f"DAG is paused: run `taskkit dags unpause {dag.dag_id}`"
    if state is State.SCHEDULED:
        return ti.wait_reason or "scheduled: waiting for the scheduler to queue it"
    if run.state is RunState.QUEUED:
        return "DAG run is queued (max_active_runs reached)"
    if run.state is not RunState.RUNNING:
        return f"DAG run is finished: {run.state}"
    spec = spec_of_run()
    if ti.task_id in spec.tasks:
        states = {t.task_id: t.state for t in store.list_task_instances(dag.dag_id, run.run_id)}
        upstream = spec.tasks[ti.task_id].upstream
        waiting = sorted(u for u in upstream if states.get(u) not in FINISHED_STATES)
        if waiting:
            return f"waiting for upstream task(s) {', '.join(waiting)}"
    return ti.wait_reason or "upstream tasks are done: waiting for the scheduler to evaluate it"
