"""DAG runs: triggering one, listing a DAG's runs, and the grid of runs by tasks."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.authoring.params import resolve_params
from taskkit.model.timetables import EventsTimetable
from taskkit.services.dag_versions import current_version, load_version
from taskkit.services.validation import check_run_id
from taskkit.states import RunState, RunType, State

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import Metastore, RunRecord
    from taskkit.services.dag_versions import DagVersions
    from taskkit.services.dags import Page


def trigger(
    store: Metastore,
    config: Settings,
    dag_id: str,
    *,
    run_id: str | None = None,
    logical_date: dt.datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> RunRecord:
    """Create a manual run of the DAG's current version (parsing the folder if it is new).

    The run id defaults to `manual__<logical date>`; the conf is checked
    against the DAG's params (their JSON schemas). Raises DagNotFoundError,
    DuplicateRunError, ParamValidationError or InvalidInputError.
    """
    when = logical_date or now or dt.datetime.now(dt.timezone.utc)
    if run_id is not None:
        check_run_id(run_id)
    version = current_version(store, config, dag_id)
    dag = load_version(config, version)
    run_conf = dict(conf or {})
    resolve_params(dag.params, run_conf, dag_id=dag_id)  # a bad value: one line, no run
    schedule = dag.schedule
    return store.create_run(
        dag_id,
        run_id or f"manual__{when.isoformat()}",
        when,
        run_type=RunType.MANUAL,
        dag_version_id=version.id,
        tasks=list(dag.spec.tasks.values()),
        conf=run_conf,
        # Only EventsTimetable gives manual runs an interval of their own (restrict_to_events).
        data_interval=(
            schedule.manual_data_interval(when) if isinstance(schedule, EventsTimetable) else None
        ),
    )


def list_runs(
    store: Metastore, dag_id: str, page: Page, states: tuple[RunState, ...] = ()
) -> tuple[list[RunRecord], int]:
    """One page of the DAG's runs (newest first) and the total; DagNotFoundError if unknown."""
    store.get_dag(dag_id)
    return store.page_runs(dag_id, limit=page.limit, offset=page.offset, states=states)


#: One letter per task state in the grid's cells; "-" where a run lacks the task.
STATE_CODES: Mapping[str, str] = {s.value: chr(ord("a") + i) for i, s in enumerate(State)}
MISSING = "-"


@attrs.frozen
class Grid:
    """Runs (oldest first, as the grid's columns) by tasks (topological order, its rows).

    `cells[task_id]` is a string with one letter per run (STATE_CODES, "-"
    where the run has no such task: it ran another version of the DAG), and
    `tries[task_id]` per run the try number where it is above 1 (else 0),
    only for tasks tried more than once somewhere. 25,000 cells travel as
    1,000 short strings.
    """

    dag_id: str
    task_ids: tuple[str, ...]
    runs: tuple[RunRecord, ...]
    cells: Mapping[str, str]
    tries: Mapping[str, list[int]]
    #: task_id -> its task group's id, for tasks inside a group (the grid folds them).
    groups: Mapping[str, str] = attrs.field(factory=dict)


def grid(store: Metastore, versions: DagVersions, dag_id: str, *, runs: int = 25) -> Grid:
    """The newest `runs` runs of the DAG and every task instance's state in them.

    Two queries (the runs, then the cells' four columns from a covering
    index); see bench/bench_api.py for what 25 runs of 1,000 tasks cost.
    """
    store.get_dag(dag_id)
    newest, _ = store.page_runs(dag_id, limit=runs)
    chosen = tuple(reversed(newest))
    task_ids: list[str] = []
    groups: dict[str, str] = {}
    with contextlib.suppress(LookupError):  # no stored version: rows come from the cells
        live = versions.current(dag_id)
        task_ids = list(live.spec.tasks)
        for task in live.tasks:
            if task.task_group.group_id:
                groups[task.task_id] = task.task_group.group_id
    column = {run.id: i for i, run in enumerate(chosen)}
    width = len(chosen)
    letters: dict[str, list[str]] = {t: [MISSING] * width for t in task_ids}
    tries: dict[str, list[int]] = {}
    code = STATE_CODES.get
    for run_pk, task_id, state, tried in store.grid_cells(list(column)):
        row = letters.get(task_id)
        if row is None:  # a task of an older version of the DAG
            row = letters[task_id] = [MISSING] * width
            task_ids.append(task_id)
        index = column[run_pk]
        row[index] = code(state, "?")
        if tried > 1:
            tries.setdefault(task_id, [0] * width)[index] = tried
    cells = {t: "".join(row) for t, row in letters.items()}
    return Grid(dag_id, tuple(task_ids), chosen, cells, tries, groups)
