"""DAG runs: triggering one, listing a DAG's runs, and the grid of runs by tasks."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from taskkit import validation
from taskkit.authoring.params import resolve_params
from taskkit.errors import InvalidInputError
from taskkit.metastore.records import NEWEST_RUNS_FIRST, RunColumn, RunOrder
from taskkit.scheduling.engine import mapped_state
from taskkit.scheduling.timetable import Timetable
from taskkit.scheduling.wakeup import wake_scheduler
from taskkit.services.dag_versions import current_version, load_version
from taskkit.services.dags import EVERY
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

    The run id defaults to `manual__<logical date>`; its data interval is the
    one Airflow infers for the DAG's schedule (Timetable.manual_interval); the conf is checked
    against the DAG's params (their JSON schemas). Raises DagNotFoundError,
    DuplicateRunError, ParamValidationError or InvalidInputError.
    """
    when = logical_date or now or dt.datetime.now(dt.timezone.utc)
    if run_id is not None:
        validation.run_id(run_id)
    version = current_version(store, config, dag_id)
    dag = load_version(config, version)
    run_conf = dict(conf or {})
    resolve_params(dag.params, run_conf, dag_id=dag_id)  # a bad value: one line, no run
    run = store.create_run(
        dag_id,
        run_id or f"manual__{when.isoformat()}",
        when,
        run_type=RunType.MANUAL,
        dag_version_id=version.id,
        tasks=list(dag.spec.tasks.values()),
        conf=run_conf,
        data_interval=Timetable.of(dag).manual_interval(when),
    )
    wake_scheduler(config.database.sql_alchemy_conn)  # else it looks within 0.5 s
    return run


#: Airflow's `order_by` names for a list of runs, and the column each sorts by.
RUN_ORDER_FIELDS: Mapping[str, RunColumn] = {
    "id": RunColumn.ID,
    "dag_id": RunColumn.DAG_ID,
    "dag_run_id": RunColumn.RUN_ID,
    "run_id": RunColumn.RUN_ID,
    "logical_date": RunColumn.LOGICAL_DATE,
    "run_type": RunColumn.RUN_TYPE,
    "state": RunColumn.STATE,
    "queued_at": RunColumn.CREATED_AT,
    "start_date": RunColumn.STARTED_AT,
    "end_date": RunColumn.ENDED_AT,
    "data_interval_start": RunColumn.DATA_INTERVAL_START,
    "data_interval_end": RunColumn.DATA_INTERVAL_END,
}


def run_order(order_by: str | None) -> RunOrder:
    """The order Airflow's `order_by` asks for (`-` first: descending); newest first for None.

    Raises InvalidInputError, listing the names, for one it does not know.
    """
    if order_by is None:
        return NEWEST_RUNS_FIRST
    column = RUN_ORDER_FIELDS.get(order_by.removeprefix("-"))
    if column is None:
        raise InvalidInputError(
            f"Cannot order runs by {order_by!r}: use one of {', '.join(RUN_ORDER_FIELDS)}, "
            "with a leading '-' for descending (e.g. order_by=-start_date)."
        )
    return RunOrder(column, descending=order_by.startswith("-"))


def list_runs(
    store: Metastore,
    dag_id: str,
    page: Page,
    states: tuple[RunState, ...] = (),
    order: RunOrder = NEWEST_RUNS_FIRST,
) -> tuple[list[RunRecord], int]:
    """One page of the DAG's runs (every DAG's for EVERY) in `order`, and the total;
    DagNotFoundError for an unknown DAG."""
    wanted = None if dag_id == EVERY else dag_id
    if wanted is not None:
        store.get_dag(wanted)
    return store.page_runs(wanted, limit=page.limit, offset=page.offset, states=states, order=order)


#: One letter per task state in the grid's cells; "-" where a run lacks the task.
STATE_CODES: Mapping[str, str] = {s.value: chr(ord("a") + i) for i, s in enumerate(State)}
STATE_CODES_BACK: Mapping[str, str] = {letter: state for state, letter in STATE_CODES.items()}
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
    #: A mapped task's instance count per state, per run (None where it has no instances);
    #: its cell in `cells` is the overall state (`mapped_overall`).
    mapped: Mapping[str, list[dict[str, int] | None]] = attrs.field(factory=dict)


#: While a mapped task's instances are under way its cell shows the first of these it has.
_UNDERWAY = (State.RUNNING, State.QUEUED, State.UP_FOR_RETRY, State.SCHEDULED, State.NONE)


def mapped_overall(counts: Mapping[str, int]) -> str:
    """A mapped task's state in one run from its instances' states and counts.

    Work under way shows first (running, then queued...); once all have
    finished it is what trigger rules see (engine.mapped_state): failed if
    any failed, skipped if all skipped, else success.
    """
    for state in _UNDERWAY:
        if state.value in counts:
            return state.value
    return mapped_state(State(s) for s in counts).value


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
    mapped: list[str] = []
    with contextlib.suppress(LookupError):  # no stored version: rows come from the cells
        live = versions.current(dag_id)
        task_ids = list(live.spec.tasks)
        mapped = [t.task_id for t in live.spec.tasks.values() if t.map_spec]
        for task in live.tasks:
            if task.task_group.group_id:
                groups[task.task_id] = task.task_group.group_id
    column = {run.id: i for i, run in enumerate(chosen)}
    width = len(chosen)
    letters: dict[str, list[str]] = {t: [MISSING] * width for t in task_ids}
    tries: dict[str, list[int]] = {}
    counts: dict[str, list[dict[str, int] | None]] = {t: [None] * width for t in mapped}
    code = STATE_CODES.get
    for run_pk, task_id, state, tried in store.grid_cells(list(column)):
        index = column[run_pk]
        if task_id in counts:
            cell = counts[task_id][index]
            if cell is None:
                cell = counts[task_id][index] = {}
            cell[state] = cell.get(state, 0) + 1
            continue
        row = letters.get(task_id)
        if row is None:  # a task of an older version of the DAG
            row = letters[task_id] = [MISSING] * width
            task_ids.append(task_id)
        elif row[index] != MISSING:  # a second instance: mapped in that run's version
            first = STATE_CODES_BACK[row[index]]
            counts[task_id] = [None] * width
            counts[task_id][index] = {first: 1, state: 1} if first != state else {state: 2}
            continue
        row[index] = code(state, "?")
        if tried > 1:
            tries.setdefault(task_id, [0] * width)[index] = tried
    for task_id, per_run in counts.items():
        row = letters.setdefault(task_id, [MISSING] * width)
        if task_id not in task_ids:
            task_ids.append(task_id)
        for index, cell in enumerate(per_run):
            if cell is not None:
                row[index] = STATE_CODES[mapped_overall(cell)]
    cells = {t: "".join(row) for t, row in letters.items()}
    return Grid(dag_id, tuple(task_ids), chosen, cells, tries, groups, counts)
