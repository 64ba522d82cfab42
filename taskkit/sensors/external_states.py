"""Other DAGs' run and task states, read (only read) from the metastore the process's settings name.

ExternalTaskSensor's pokes read them in a try; its deferrable form's
WorkflowTrigger reads them in the triggerer; TriggerDagRunOperator's
DagStateTrigger reads run states the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskkit.metastore import Metastore


def external_states(
    dag_id: str,
    dates: Sequence[dt.datetime],
    task_ids: Collection[str] | None,
    failed_states: Collection[str],
    *,
    group_id: str | None = None,
    skipped_states: Collection[str] = (),
    allowed_states: Collection[str] = (),
    check_existence: bool = False,
) -> dict[tuple[dt.datetime, str], str]:
    """The state of each (date, task) of `dag_id` looked at ("" stands for the run itself;
    with `group_id`, the group's id stands for all its tasks).

    A mapped task's state is allowed or failed only when all its instances
    agree: an instance in a failed state makes it failed, any other
    disagreement leaves it undecided. A group's state is the state of the
    failed, skipped or allowed list all its task instances are in, else ""
    (undecided), as Airflow 3.3 decides it. Reads the metastore the
    process's settings name (a try's, or the triggerer's).
    """
    store = open_metastore()
    try:
        if check_existence:
            store.get_dag(dag_id)  # DagNotFoundError names it
        found: dict[tuple[dt.datetime, str], str] = {}
        for run in store.runs_at(dag_id, dates):
            if group_id:
                lists = (failed_states, skipped_states, allowed_states)
                found[run.logical_date, group_id] = _group_state(
                    store, run.dag_id, run.run_id, group_id, lists
                )
                continue
            if not task_ids:
                found[run.logical_date, ""] = run.state.value
                continue
            instances: dict[str, set[str]] = {}
            for ti in store.list_task_instances(run.dag_id, run.run_id):
                if ti.task_id in task_ids:
                    instances.setdefault(ti.task_id, set()).add(ti.state.value)
            for task_id, seen in instances.items():
                failed = seen & set(failed_states)
                state = min(failed) if failed else (seen.pop() if len(seen) == 1 else "")
                found[run.logical_date, task_id] = state
        return found
    finally:
        store.dispose()


def _group_state(
    store: Metastore,
    dag_id: str,
    run_id: str,
    group_id: str,
    lists: tuple[Collection[str], ...],
) -> str:
    """The group's state in one run: a state of the first list all its task instances are
    in, else "" (undecided). ExternalTaskGroupNotFoundError if the run has no such task."""
    # With the metastore, only when a poke or a trigger reads it: see open_metastore.
    from taskkit.errors import ExternalTaskGroupNotFoundError

    prefix = group_id + "."
    seen = {
        ti.state.value
        for ti in store.list_task_instances(dag_id, run_id)
        if ti.task_id.startswith(prefix)
    }
    if not seen:
        raise ExternalTaskGroupNotFoundError(group_id, dag_id, run_id)
    for states in lists:
        if seen <= set(states):
            return min(seen)
    return ""


def run_states(dag_id: str, run_ids: Sequence[str]) -> dict[str, str]:
    """The state of each of the runs of `dag_id` that exists."""
    # With the metastore, only when a poke or a trigger reads it: see open_metastore.
    from taskkit.errors import RunNotFoundError

    store = open_metastore()
    try:
        found = {}
        for run_id in run_ids:
            try:
                found[run_id] = store.get_run(dag_id, run_id).state.value
            except RunNotFoundError:
                continue
        return found
    finally:
        store.dispose()


def open_metastore() -> Metastore:
    """The metastore the process's settings name (read-only use)."""
    # SQLAlchemy and the settings load only when a poke needs them: the zygote that forks
    # every try stays without SQLAlchemy (fork cost), even for DAGs that use this sensor.
    from taskkit.config import load_settings
    from taskkit.metastore import Metastore

    return Metastore.open(load_settings().database.sql_alchemy_conn)
