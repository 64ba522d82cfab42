"""Backfills and clears: creating runs for past intervals and rerunning parts of runs.

Both only write the metastore; a running scheduler (or the next one) runs
the result under the usual concurrency rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from taskkit.errors import TaskNotFoundError
from taskkit.scheduling.timetable import Timetable
from taskkit.states import RunType

if TYPE_CHECKING:
    from taskkit.metastore.store import Metastore
    from taskkit.model.dag import DagSpec


@attrs.frozen
class BackfillReport:
    """What a backfill did, as logical dates: runs created, runs reset and runs left alone."""

    created: tuple[dt.datetime, ...]
    reset: tuple[dt.datetime, ...]
    skipped: tuple[dt.datetime, ...]


def backfill(
    store: Metastore,
    spec: DagSpec,
    version_id: int,
    earliest: dt.datetime,
    latest: dt.datetime,
    *,
    reset: bool = False,
    max_active_runs: int | None = None,
    spec_of: Callable[[int], DagSpec] | None = None,
) -> BackfillReport:
    """Create a backfill run for every interval whose logical date is in [earliest, latest].

    Runs get run_type backfill and run id `backfill__<logical date>` on the
    DAG's current version, with `max_active_runs` stored as their own cap.
    An interval that already has a scheduled or backfill run is skipped,
    unless `reset`: then that run is cleared (every task instance, as
    `tasks clear` does) and runs again; `spec_of(version_id)` gives the
    spec of its version for the retries to grant. Each run is created in
    its own transaction. Raises ScheduleError for a DAG without a schedule.
    """
    planned = Timetable.of(spec).runs_between(earliest, latest)
    existing = store.find_interval_runs(spec.dag_id, [p.logical_date for p in planned])
    created, cleared, skipped = [], [], []
    for run in planned:
        found = existing.get(run.logical_date)
        if found is None:
            store.create_run(
                spec.dag_id,
                f"backfill__{run.logical_date.isoformat()}",
                run.logical_date,
                run_type=RunType.BACKFILL,
                dag_version_id=version_id,
                tasks=list(spec.tasks.values()),
                data_interval=run.data_interval,
                max_active_runs=max_active_runs,
            )
            created.append(run.logical_date)
        elif reset:
            run_spec = spec_of(found.dag_version_id) if spec_of else spec
            store.clear_task_instances(spec.dag_id, found.run_id, tries_of(run_spec, None))
            cleared.append(run.logical_date)
        else:
            skipped.append(run.logical_date)
    return BackfillReport(tuple(created), tuple(cleared), tuple(skipped))


def select_tasks(spec: DagSpec, task_regex: str | None, *, downstream: bool) -> list[str]:
    """Task ids matching `task_regex` (re.search; all when None), plus their descendants.

    Raises TaskNotFoundError when nothing matches.
    """
    pattern = re.compile(task_regex) if task_regex is not None else None
    chosen = {t for t in spec.tasks if pattern is None or pattern.search(t)}
    if not chosen:
        raise TaskNotFoundError(
            f"No task of DAG {spec.dag_id!r} matches {task_regex!r}; "
            f"its tasks are: {', '.join(spec.tasks)}."
        )
    if downstream:
        chosen |= descendants(spec, chosen)
    return [t for t in spec.tasks if t in chosen]  # in topological order


def descendants(spec: DagSpec, task_ids: Iterable[str]) -> set[str]:
    """Every task reachable downstream from `task_ids` (not including them, unless reached)."""
    found: set[str] = set()
    stack = list(task_ids)
    while stack:
        for child in spec.tasks[stack.pop()].downstream:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def tries_of(spec: DagSpec, task_ids: Iterable[str] | None) -> dict[str, int]:
    """For clearing: each task's tries granted again (its retries + 1); all tasks when None."""
    chosen = spec.tasks if task_ids is None else task_ids
    return {t: spec.tasks[t].max_tries for t in chosen}
