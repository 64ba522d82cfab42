"""Which task instances a clear reaches through ExternalTaskMarker, in other DAGs' runs.

Clearing a marker also clears its external task (and that task's downstream
tasks) in the external DAG's run at the marker's logical date; markers among
those are followed in turn, as Airflow 2's recursive clear did. The whole
plan is worked out before anything is cleared, so a clear that would go
deeper than the first marker's `recursion_depth` changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from taskkit.authoring.context import DagRunInfo, dag_base_context
from taskkit.authoring.templating import render
from taskkit.errors import InvalidInputError
from taskkit.scheduling.rerun import descendants
from taskkit.sensors.external_task import ExternalTaskMarker

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG
    from taskkit.metastore import Metastore, RunRecord
    from taskkit.services.dag_versions import DagVersions


@attrs.frozen
class RunToClear:
    """Task ids to clear in one run, with that run's DAG (its own version)."""

    run: RunRecord
    dag: DAG
    task_ids: tuple[str, ...]


@attrs.frozen
class _Pending:
    """Tasks to add to the plan; `depth` is how many more markers may be followed (None: the
    first marker's recursion_depth)."""

    run: RunRecord
    task_ids: list[str]
    depth: int | None


def plan_from_run(
    store: Metastore, versions: DagVersions, run: RunRecord, chosen: list[str]
) -> list[RunToClear]:
    """The run's chosen tasks first, then what its markers reach, run by run.

    Raises InvalidInputError when the markers lead deeper than the first
    marker's recursion_depth (too many levels, or a cycle of DAGs that does
    not close on the same tasks).
    """
    plan: dict[tuple[str, str], RunToClear] = {}
    todo = [_Pending(run, chosen, None)]
    while todo:
        pending = todo.pop(0)
        current, task_ids = pending.run, pending.task_ids
        key = (current.dag_id, current.run_id)
        dag = versions.get(current.dag_version_id)
        known = plan.get(key)
        new = [t for t in task_ids if known is None or t not in known.task_ids]
        if not new:
            continue
        before = known.task_ids if known else ()
        order = [t for t in dag.spec.tasks if t in {*before, *new}]
        plan[key] = RunToClear(current, dag, tuple(order))
        for task_id in new:
            marker = dag.task_dict.get(task_id)
            if isinstance(marker, ExternalTaskMarker):
                todo.extend(_follow(store, versions, current, dag, marker, depth=pending.depth))
    return list(plan.values())


def _follow(
    store: Metastore,
    versions: DagVersions,
    run: RunRecord,
    dag: DAG,
    marker: ExternalTaskMarker,
    *,
    depth: int | None,
) -> list[_Pending]:
    """The external run and tasks one marker reaches (none when that run does not exist)."""
    left = marker.recursion_depth if depth is None else depth
    if left <= 0:
        raise InvalidInputError(
            f"Clearing through ExternalTaskMarker {marker.task_id!r} of DAG {dag.dag_id!r} "
            "goes deeper than its recursion_depth: too many DAGs in a chain, or a cycle. "
            "Raise recursion_depth on the first marker, or clear the runs one by one."
        )
    context = dag_base_context(
        DagRunInfo(
            run.dag_id,
            run.run_id,
            run.logical_date,
            run.conf,
            run.run_type.value,
            run.data_interval_start,
            run.data_interval_end,
        ),
        dag,
    )
    external_dag_id = str(render(marker.external_dag_id, context, marker))
    external_task_id = str(render(marker.external_task_id, context, marker))
    when = _as_date(render(marker.logical_date, context, marker), marker)
    found: list[_Pending] = []
    for external in store.runs_at(external_dag_id, [when]):
        spec = versions.get(external.dag_version_id).spec
        if external_task_id in spec.tasks:
            reached = {external_task_id} | descendants(spec, [external_task_id])
            found.append(_Pending(external, [t for t in spec.tasks if t in reached], left - 1))
    return found


def _as_date(value: object, marker: ExternalTaskMarker) -> dt.datetime:
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError(
            f"ExternalTaskMarker {marker.task_id!r}: logical_date rendered to {value!r}, "
            "not an ISO date-time."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
