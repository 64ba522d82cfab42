"""The run context a task sees: `ti`, `dag_run`, `logical_date`, `params`, `conf` and friends."""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from taskkit.authoring import macros
from taskkit.authoring.asset_events import (
    InletEventAccessors,
    OutletEventAccessors,
    TriggeringAssetEvents,
    resolve_refs,
    resolver_for,
)
from taskkit.authoring.connections import CONN
from taskkit.authoring.params import param_values
from taskkit.authoring.variables import VAR
from taskkit.errors import TaskkitError
from taskkit.model.assets import TRIGGERING_ASSET_EVENTS
from taskkit.model.results import SkipScope

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG

#: The mapping passed to execute() and templates, and returned by get_current_context().
Context = dict[str, Any]

_current: contextvars.ContextVar[Context] = contextvars.ContextVar("taskkit_context")


class XComAccess(Protocol):
    """Where a try reads upstream values and writes its own (in memory or the metastore)."""

    #: The map index of the try's instance (-1 when not mapped).
    map_index: int

    def pull(self, task_id: str, key: str) -> Any: ...

    def pull_at(self, task_id: str, key: str, map_index: int) -> Any: ...

    def push(self, task_id: str, key: str, value: Any) -> None: ...


@attrs.frozen
class DagRunInfo:
    """What a task may know about its run."""

    dag_id: str
    run_id: str
    logical_date: dt.datetime
    conf: Mapping[str, Any]
    run_type: str = "manual"
    data_interval_start: dt.datetime | None = None
    data_interval_end: dt.datetime | None = None
    #: The DAG's latest successful run before this one: its data interval and dates
    #: (None when there is none, and always in DAG.test(), which has no earlier runs).
    prev_data_interval_start_success: dt.datetime | None = None
    prev_data_interval_end_success: dt.datetime | None = None
    prev_start_date_success: dt.datetime | None = None
    prev_end_date_success: dt.datetime | None = None
    #: That run's logical date (Airflow 2's `prev_execution_date_success`).
    prev_logical_date_success: dt.datetime | None = None
    #: The schedule point before this run's logical date, for a run not triggered by hand
    #: whose schedule has data intervals (Airflow 2's `prev_execution_date`); else None.
    previous_point: dt.datetime | None = None


@attrs.define
class TryDirectives:
    """What a try asks of the run engine besides its outcome (set by branching operators)."""

    follow: frozenset[str] | None = None
    skip_downstream: SkipScope | None = None


@attrs.frozen
class TaskInstanceInfo:
    """The `ti` of a try: its identity, its try number and XCom access."""

    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    max_tries: int
    xcom: XComAccess = attrs.field(repr=False, eq=False)
    map_index: int = -1
    directives: TryDirectives = attrs.field(factory=TryDirectives, repr=False, eq=False)
    #: When this try's first poke began, if it is a reschedule-mode sensor's later poke.
    first_reschedule_date: dt.datetime | None = None

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = "return_value",
        *,
        default: Any = None,
        map_indexes: int | Iterable[int] | None = None,
        include_prior_dates: bool = False,
    ) -> Any:
        """A task's value (a list when given several task ids); `default` when it has none.

        Any task of the run can be pulled, as in Airflow; one that did not run
        (or pushed nothing) gives `default`. With no task_ids, this task's own
        value. Without `map_indexes`: a task of this instance's own mapped task
        group gives the value of the same map index; another mapped task gives
        its instances' values as a list, in map-index order. `map_indexes=i`
        gives instance i's value; a list of indexes gives a list.
        """
        ids = (
            [task_ids or self.task_id]
            if isinstance(task_ids, (str, type(None)))
            else list(task_ids)
        )
        single = isinstance(task_ids, (str, type(None)))
        if map_indexes is None:
            values = [self.xcom.pull(t, key) for t in ids]
            if single:
                return default if values[0] is None else values[0]
            return values  # as Airflow: None for a task without a value
        indexes = [map_indexes] if isinstance(map_indexes, int) else list(map_indexes)
        found = [self.xcom.pull_at(t, key, i) for t in ids for i in indexes]
        found = [default if v is None else v for v in found]
        return found[0] if single and isinstance(map_indexes, int) else found

    def xcom_push(self, key: str, value: Any) -> None:
        """Store an extra value under `key` for downstream tasks."""
        self.xcom.push(self.task_id, key, value)


#: Airflow's names of the classes of `context["ti"]` and `context["dag_run"]`, for the type
#: hints of ported callbacks and tasks (`ti: TaskInstance = context["ti"]`). They are not
#: Airflow's database models: `DagRun.find(...)` and the like do not exist here.
TaskInstance = TaskInstanceInfo
DagRun = DagRunInfo


def base_context(
    run: DagRunInfo, params: Mapping[str, Any], *, pendulum_dates: bool = False
) -> Context:
    """The part of the context shared by every try of a run (built once per run).

    `params` are the DAG's; the run's conf overrides them and adds its other
    keys, as Airflow's `dag_run_conf_overrides_params` does. Values are not
    validated here: `resolve_params` does that when the run is triggered.
    With `pendulum_dates` (DAG.pendulum_dates) the run's datetimes become
    pendulum DateTimes, as Airflow's context has them.
    """
    if pendulum_dates:
        run = _with_pendulum_dates(run)
    logical_date = run.logical_date
    triggering = TriggeringAssetEvents.from_conf(run.conf.get(TRIGGERING_ASSET_EVENTS))
    ts = logical_date.isoformat()
    if logical_date.year >= 1000:  # cut from ts: three strftime calls took ~5 us of each try
        ds, ts_nodash = ts[:10], ts[:19].replace("-", "").replace(":", "")
    else:  # strftime's %Y does not pad years to four digits, as isoformat does
        ds, ts_nodash = logical_date.strftime("%Y-%m-%d"), logical_date.strftime("%Y%m%dT%H%M%S")
    ds_nodash = ds.replace("-", "")
    return {
        "dag_run": run,
        "run_id": run.run_id,
        "logical_date": logical_date,
        "ds": ds,
        "ds_nodash": ds_nodash,
        **airflow_2_dates(run),
        "ts": ts,
        "ts_nodash": ts_nodash,
        "ts_nodash_with_tz": ts.replace("-", "").replace(":", ""),
        "data_interval_start": run.data_interval_start or logical_date,
        "data_interval_end": run.data_interval_end or logical_date,
        "prev_data_interval_start_success": run.prev_data_interval_start_success,
        "prev_data_interval_end_success": run.prev_data_interval_end_success,
        "prev_start_date_success": run.prev_start_date_success,
        "prev_end_date_success": run.prev_end_date_success,
        "params": param_values(params, run.conf),
        "conf": run.conf,
        "macros": macros,
        "var": VAR,  # {{ var.value.key }}, {{ var.json.key }}: read when rendered
        "conn": CONN,  # {{ conn.my_id.host }}
        # An asset-triggered run's events, by asset URI (the run creator puts them in its conf).
        "triggering_asset_events": triggering,
        "triggering_dataset_events": triggering,  # Airflow 2's name
    }


def dag_base_context(run: DagRunInfo, dag: DAG) -> Context:
    """base_context for a run of `dag`: its params, and pendulum dates if it dates with
    pendulum (a DAG pickled before `pendulum_dates` existed keeps plain ones)."""
    return base_context(run, dag.params, pendulum_dates=getattr(dag, "pendulum_dates", False))


def _with_pendulum_dates(run: DagRunInfo) -> DagRunInfo:
    """The run with its datetimes as pendulum DateTimes in the same zones (UTC, as the
    metastore keeps them): Airflow's coerce_datetime."""
    # Lazy: only a DAG whose file imported pendulum asks, so this import costs nothing.
    import pendulum

    dates: dict[str, Any] = {
        field.name: pendulum.instance(value)
        for field in attrs.fields(DagRunInfo)
        if isinstance(value := getattr(run, field.name), dt.datetime)
    }
    return attrs.evolve(run, **dates)


def airflow_2_dates(run: DagRunInfo) -> dict[str, Any]:
    """Airflow 2's date values, which Airflow 3 removed, so Airflow 2 templates port as they are.

    `execution_date` is the logical date. `next_execution_date` and
    `prev_execution_date` are what Airflow 2.2+ gives: a manual run's own
    logical date; else the start of the next scheduled interval, which is this
    run's data_interval_end, and the schedule point before the logical date
    (None for a schedule without data intervals). `prev_execution_date_success`
    is the logical date of the latest successful run before this one.
    `tomorrow_ds` and `yesterday_ds` are a day after and before `ds`.
    """
    logical_date = run.logical_date
    manual = run.run_type == "manual" or run.data_interval_end is None
    following = logical_date if manual else run.data_interval_end
    preceding = logical_date if manual else run.previous_point
    assert following is not None
    day = dt.timedelta(days=1)
    next_ds, tomorrow, yesterday = (
        _ds(d) for d in (following, logical_date + day, logical_date - day)
    )
    prev_ds = None if preceding is None else _ds(preceding)
    return {
        "execution_date": logical_date,
        "next_execution_date": following,
        "next_ds": next_ds,
        "next_ds_nodash": next_ds.replace("-", ""),
        "prev_execution_date": preceding,
        "prev_ds": prev_ds,
        "prev_ds_nodash": None if prev_ds is None else prev_ds.replace("-", ""),
        "prev_execution_date_success": run.prev_logical_date_success,
        "tomorrow_ds": tomorrow,
        "tomorrow_ds_nodash": tomorrow.replace("-", ""),
        "yesterday_ds": yesterday,
        "yesterday_ds_nodash": yesterday.replace("-", ""),
    }


def _ds(moment: dt.datetime) -> str:
    """YYYY-MM-DD as Airflow's strftime writes it (strftime does not pad a year < 1000)."""
    return moment.isoformat()[:10] if moment.year >= 1000 else moment.strftime("%Y-%m-%d")


def try_context(base: Context, ti: TaskInstanceInfo, task: Any) -> Context:
    """The context of one try: the run's plus `ti`, `task`, `dag` and `try_number`.

    A task's own `params` sit between the DAG's and the run's conf.
    """
    context = base.copy()
    context["ti"] = ti
    context["task_instance"] = ti
    context["task"] = task
    context["try_number"] = ti.try_number
    dag = getattr(task, "dag", None)
    context["dag"] = dag
    context["task_instance_key_str"] = f"{ti.dag_id}__{ti.task_id}__{base['ds_nodash']}"
    # Asset.ref(...)s name assets declared elsewhere: AssetRefNotFoundError if none is known.
    context["inlets"] = resolve_refs(getattr(task, "inlets", ()), dag)
    context["outlets"] = resolve_refs(getattr(task, "outlets", ()), dag)
    context["outlet_events"] = OutletEventAccessors(context["outlets"], resolver_for(dag))
    context["inlet_events"] = InletEventAccessors(context["inlets"], resolver_for(dag))
    task_params = getattr(task, "params", None)
    if task_params:
        context["params"] = param_values(getattr(dag, "params", None), base["conf"], task_params)
    return context


@contextmanager
def active_context(context: Context) -> Iterator[None]:
    """Make `context` what get_current_context() returns while a try runs."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def get_current_context() -> Context:
    """The context of the try running now; only valid inside a task."""
    try:
        return _current.get()
    except LookupError:
        raise TaskkitError(
            "get_current_context() was called outside a running task: call it from "
            "inside a task function (or a function a task calls)."
        ) from None
