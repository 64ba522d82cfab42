"""DAG: a set of tasks, their dependencies and run-level limits; `@dag` builds one."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import sys
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from taskkit.authoring import registry
from taskkit.authoring.arguments import (
    AIRFLOW_2_DAG_ARGS,
    AIRFLOW_ONLY_DAG_ARGS,
    check_default_args,
    did_you_mean,
    renamed_default_args,
    take_airflow_2_names,
)
from taskkit.authoring.params import NO_DEFAULT, DagParam, ParamsDict
from taskkit.authoring.schedules import validate_schedule, watcher_warnings
from taskkit.authoring.taskgroup import TaskGroup
from taskkit.errors import (
    CycleError,
    DagAssignmentError,
    DagDefinitionError,
    DuplicateGroupIdError,
    DuplicateTaskIdError,
    ParamValidationError,
    TaskNotFoundError,
)
from taskkit.model.dag import DagSpec
from taskkit.model.graph import find_cycle, priority_weight_totals, topological_order
from taskkit.model.schedules import CONTINUOUS
from taskkit.model.timetables import Schedule

if TYPE_CHECKING:
    from dateutil.relativedelta import relativedelta

    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.edges import EdgeInfo
    from taskkit.testing import DagRunResult

#: A DAG callback: called with the context of the run's last finished try.
DagCallback = Callable[[dict[str, Any]], Any]

_DAG_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_AUTHORING_DIR = __file__.rsplit("/", 1)[0]


class DAG:
    """A workflow: tasks, the edges between them, a schedule and run-level limits.

    Use it as a context manager (`with DAG(...) as d:`) or build it with `@dag`.
    Operators created inside attach to it. Leaving the block validates the
    graph, so a cycle fails where the DAG is written.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        schedule: Schedule | relativedelta = None,
        start_date: dt.datetime | None = None,
        end_date: dt.datetime | None = None,
        catchup: bool = False,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        default_args: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Iterable[str] | None = (),
        description: str | None = None,
        doc_md: str | None = None,
        dag_display_name: str | None = None,
        owner_links: Mapping[str, str] | None = None,
        dagrun_timeout: dt.timedelta | None = None,
        on_success_callback: DagCallback | list[DagCallback] | None = None,
        on_failure_callback: DagCallback | list[DagCallback] | None = None,
        user_defined_macros: Mapping[str, Any] | None = None,
        user_defined_filters: Mapping[str, Callable[..., Any]] | None = None,
        render_template_as_native_obj: bool = False,
        template_undefined: type | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        **airflow_only: Any,
    ) -> None:
        if not isinstance(dag_id, str) or not dag_id or not set(dag_id) <= _DAG_ID_CHARS:
            raise DagDefinitionError(
                f"DAG id {dag_id!r} is not valid: use letters, digits, '_', '-' or '.'."
            )
        self.dag_id = dag_id
        if airflow_only:
            passed = (("schedule", schedule), ("max_active_tasks", max_active_tasks))
            renamed = take_airflow_2_names(
                f"DAG {dag_id!r}",
                AIRFLOW_2_DAG_ARGS,
                airflow_only,
                [name for name, value in passed if value is not None],
            )
            schedule = renamed.get("schedule", schedule)
            max_active_tasks = renamed.get("max_active_tasks", max_active_tasks)
        #: Airflow settings this DAG uses that taskkit ignores; shown beside import errors.
        self.warnings: list[str] = self._airflow_only_warnings(airflow_only)
        self.default_args: dict[str, Any] = renamed_default_args(dag_id, default_args)
        self.warnings.extend(check_default_args(dag_id, self.default_args))
        # As in Airflow, default_args may carry the DAG's dates.
        start_date = start_date or self.default_args.get("start_date")
        #: True when start_date is a pendulum DateTime (as Airflow's examples write it): then
        #: the context's datetimes are pendulum DateTimes too, as in Airflow, so ported code
        #: that calls `.add()`, `.format()` or `.in_timezone()` on them works.
        self.pendulum_dates = type(start_date).__module__.partition(".")[0] == "pendulum"
        start_date = plain_datetime(start_date)
        end_date = plain_datetime(end_date or self.default_args.get("end_date"))
        self.schedule = validate_schedule(dag_id, schedule, start_date, end_date)
        self.warnings.extend(watcher_warnings(dag_id, self.schedule))
        self.start_date = start_date
        self.end_date = end_date
        self.catchup = catchup
        self.max_active_runs = _positive_or_none(dag_id, "max_active_runs", max_active_runs)
        if self.schedule == CONTINUOUS:
            self.max_active_runs = _continuous_max_active_runs(dag_id, self.max_active_runs)
        self.max_active_tasks = _positive_or_none(dag_id, "max_active_tasks", max_active_tasks)
        self.params: ParamsDict = self._build_params(params)
        self.tags = _string_list(dag_id, "tags", tags or ())
        self.description = _optional_str(dag_id, "description", description)
        self.doc_md = _optional_str(dag_id, "doc_md", doc_md)
        self.dag_display_name = _optional_str(dag_id, "dag_display_name", dag_display_name)
        self.owner_links: dict[str, str] = _owner_links(dag_id, owner_links)
        self.dagrun_timeout = _optional_delta(dag_id, "dagrun_timeout", dagrun_timeout)
        self.on_success_callback = _callbacks(dag_id, "on_success_callback", on_success_callback)
        self.on_failure_callback = _callbacks(dag_id, "on_failure_callback", on_failure_callback)
        self.user_defined_macros: dict[str, Any] = _mapping(
            dag_id, "user_defined_macros", user_defined_macros
        )
        self.user_defined_filters: dict[str, Callable[..., Any]] = _mapping(
            dag_id, "user_defined_filters", user_defined_filters
        )
        if not isinstance(render_template_as_native_obj, bool):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: render_template_as_native_obj must be True or False."
            )
        self.render_template_as_native_obj = render_template_as_native_obj
        if template_undefined is not None and not isinstance(template_undefined, type):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: template_undefined must be a class such as "
                f"jinja2.StrictUndefined, got {template_undefined!r}."
            )
        #: None is jinja2.StrictUndefined, Airflow's default: an undefined name fails the try.
        self.template_undefined = template_undefined
        self.template_searchpath: list[str] = _string_list(
            dag_id,
            "template_searchpath",
            [template_searchpath] if isinstance(template_searchpath, str) else template_searchpath,
        )
        self.fileloc = _caller_file()
        self.task_dict: dict[str, BaseOperator] = {}
        #: Per prefixed base task id, the first `__n` suffix not yet tried (unique_task_id).
        self._next_suffix: dict[str, int] = {}
        #: Labels on edges, by (upstream task_id, downstream task_id); for display only.
        self.edge_info: dict[tuple[str, str], EdgeInfo] = {}
        #: Every TaskGroup by its (prefixed) id, as Airflow's `dag.task_group_dict`.
        self.task_group_dict: dict[str, TaskGroup] = {}
        #: The id-less group holding the top-level tasks and groups.
        self.task_group = TaskGroup.create_root(self)
        self._spec: DagSpec | None = None
        registry.announce(self)

    def _airflow_only_warnings(self, arguments: Mapping[str, Any]) -> list[str]:
        for name in arguments:
            if name not in AIRFLOW_ONLY_DAG_ARGS:
                hint = did_you_mean(name, [*_DAG_ARGS, *AIRFLOW_ONLY_DAG_ARGS])
                raise DagDefinitionError(
                    f"DAG {self.dag_id!r}: unknown argument {name!r}.{hint} Fix the name or "
                    "remove it (docs/airflow.md lists the DAG arguments)."
                )
        return [
            f"DAG {self.dag_id!r}: argument {name!r} is an Airflow setting taskkit does not "
            f"implement ({AIRFLOW_ONLY_DAG_ARGS[name]}); it is ignored."
            for name in arguments
        ]

    def _build_params(self, params: Mapping[str, Any] | None) -> ParamsDict:
        """DAG params (with default_args' `params` under them), their schemas checked.

        As in Airflow, a scheduled DAG's defaults must be valid, since no one
        passes a conf to a scheduled run.
        """
        merged = ParamsDict(self.default_args.get("params"))
        merged.update(params or {})
        for name in merged:
            merged.get_param(name).check_schema(name=name, dag_id=self.dag_id)
        if self.schedule is not None:
            merged.validate(dag_id=self.dag_id)
        return merged

    def param(self, name: str, default: Any = NO_DEFAULT) -> DagParam:
        """A reference to DAG param `name` (set to `default` if given), resolved per run.

        As Airflow's `dag.param()`: pass it to a task call or an operator field.
        """
        if default is not NO_DEFAULT:
            self.params[name] = default
        elif name not in self.params:
            raise ParamValidationError(
                name,
                "is not a param of this DAG; pass a default (dag.param(name, default)) "
                "or declare it in the DAG's params.",
                dag_id=self.dag_id,
            )
        return DagParam(self.dag_id, name)

    # -- building ------------------------------------------------------------

    def __enter__(self) -> DAG:
        registry.push_dag(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        registry.pop_dag(self)
        if exc_type is None:
            self.validate()

    def add_task(self, task: BaseOperator) -> None:
        """Attach a task; its task_id must be new in this DAG."""
        if task.dag is not self:
            raise DagAssignmentError(
                f"Task {task.task_id!r} belongs to DAG {task.dag.dag_id!r} and cannot also be "
                f"added to DAG {self.dag_id!r}: create a separate operator for each DAG."
            )
        if task.task_id in self.task_dict:
            raise DuplicateTaskIdError(
                f"DAG {self.dag_id!r} already has a task {task.task_id!r}: "
                "give each task a unique task_id."
            )
        if task.task_id in self.task_group_dict:
            raise DuplicateGroupIdError(
                f"DAG {self.dag_id!r}: task id {task.task_id!r} is already the id of a "
                "TaskGroup; rename the task or the group."
            )
        self.task_dict[task.task_id] = task
        task.task_group.add(task)
        self.invalidate()

    def add_group(self, group: TaskGroup) -> None:
        """Register a TaskGroup's id; it must differ from every task and group id."""
        group_id = group.group_id
        assert group_id is not None
        if group_id in self.task_dict or group_id in self.task_group_dict:
            what = "a task" if group_id in self.task_dict else "another TaskGroup"
            raise DuplicateGroupIdError(
                f"DAG {self.dag_id!r}: group_id {group_id!r} is already the id of {what}; "
                "rename one of them."
            )
        self.task_group_dict[group_id] = group

    def node_ids(self) -> set[str]:
        """Every task id and group id in use."""
        return {*self.task_dict, *self.task_group_dict}

    def unique_task_id(self, base: str) -> str:
        """`base`, or `base__1`, `base__2`… when a task function is called again.

        Inside a TaskGroup the check is on the prefixed id; the unprefixed
        id is returned, as the operator adds the prefix itself. The search for a
        free suffix resumes where the last one for this base ended, so calling one
        task function n times costs O(n), not O(n²) (a 100,000-task fan-out).
        """
        group = registry.current_group(self) or self.task_group
        if not self._node_id_taken(group.child_id(base)):
            return base
        n = self._next_suffix.get(group.child_id(base), 1)
        while self._node_id_taken(group.child_id(f"{base}__{n}")):
            n += 1
        self._next_suffix[group.child_id(base)] = n + 1
        return f"{base}__{n}"

    def _node_id_taken(self, node_id: str) -> bool:
        return node_id in self.task_dict or node_id in self.task_group_dict

    def set_edge_info(self, upstream_task_id: str, downstream_task_id: str, info: EdgeInfo) -> None:
        """Attach display information (a Label) to an edge; replaces what was there."""
        self.edge_info[(upstream_task_id, downstream_task_id)] = info

    def get_edge_info(self, upstream_task_id: str, downstream_task_id: str) -> EdgeInfo | None:
        return self.edge_info.get((upstream_task_id, downstream_task_id))

    def invalidate(self) -> None:
        """Forget the cached spec after the graph changed."""
        self._spec = None

    def validate(self) -> None:
        """Raise a DagDefinitionError if the graph cannot run (a cycle, say)."""
        _ = self.spec

    # -- introspection -------------------------------------------------------

    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def get_task(self, task_id: str) -> BaseOperator:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFoundError(
                f"DAG {self.dag_id!r} has no task {task_id!r}; "
                f"its tasks are: {', '.join(sorted(self.task_dict)) or 'none'}."
            ) from None

    @property
    def spec(self) -> DagSpec:
        """The validated, frozen DagSpec (priority totals computed once per change)."""
        if self._spec is None:
            for task in self.task_dict.values():
                for field in task.template_fields:  # most hold None or a string: skipped here
                    if not isinstance(getattr(task, field, None), (str, type(None))):
                        task.link_template_outputs()
                        break
            self._spec = self._build_spec()
        return self._spec

    def _build_spec(self) -> DagSpec:
        downstream = {tid: sorted(op.downstream_task_ids) for tid, op in self.task_dict.items()}
        order = topological_order(downstream)
        if order is None:
            cycle = find_cycle(downstream) or []
            raise CycleError(
                f"DAG {self.dag_id!r} has a cycle: {' >> '.join(cycle)}. Remove one of "
                f"these dependencies: task {cycle[0]!r} would have to run before itself."
            )
        upstream = {tid: op.upstream_task_ids for tid, op in self.task_dict.items()}
        totals = priority_weight_totals(
            order,
            upstream,
            downstream,
            {tid: op.priority_weight for tid, op in self.task_dict.items()},
            {tid: op.weight_rule for tid, op in self.task_dict.items()},
        )
        for task_id, total in totals.items():
            if abs(total) > 2**63 - 1:
                raise DagDefinitionError(
                    f"DAG {self.dag_id!r}, task {task_id!r}: priority_weight_total {total} "
                    "does not fit in 64 bits; use smaller priority_weight values."
                )
        return DagSpec(
            dag_id=self.dag_id,
            tasks={tid: self.task_dict[tid].to_spec(totals[tid]) for tid in order},
            max_active_runs=self.max_active_runs,
            max_active_tasks=self.max_active_tasks,
            schedule=self.schedule,
            start_date=self.start_date,
            end_date=self.end_date,
            catchup=self.catchup,
            fileloc=self.fileloc,
            dagrun_timeout=self.dagrun_timeout,
            success_callbacks=bool(self.on_success_callback),
            failure_callbacks=bool(self.on_failure_callback),
        )

    # -- running -------------------------------------------------------------

    def test(
        self,
        *,
        logical_date: dt.datetime | None = None,
        conf: Mapping[str, Any] | None = None,
        pools: Mapping[str, int] | None = None,
        parallelism: int | None = None,
        retry_delay: dt.timedelta | None = None,
        max_map_length: int | None = None,
        variables: Mapping[str, Any] | None = None,
        connections: Mapping[str, Any] | None = None,
    ) -> DagRunResult:
        """Run the whole DAG in this process and return what happened.

        Uses the scheduler's own readiness and selection rules, so trigger
        rules, pools, pool_slots, priorities and retries behave as they will
        in production. Touches no database and writes no files.
        `max_map_length` overrides core.max_map_length's default (1024).
        `variables` (key -> value; non-strings are stored as JSON) and
        `connections` (conn_id -> Connection, URI or dict of fields) are what
        Variable.get and Connection.get find, after TASKKIT_VAR_/TASKKIT_CONN_
        environment variables; what tasks set or delete stays in this run.
        """
        # Lazy: testing brings the run engine and the try runtime, which importing a DAG file
        # never needs (the documented layering exception, docs/architecture.md).
        from taskkit.testing import run_dag_test

        return run_dag_test(
            self,
            logical_date=logical_date,
            conf=conf,
            pools=pools,
            parallelism=parallelism,
            retry_delay=retry_delay,
            max_map_length=max_map_length,
            variables=variables,
            connections=connections,
        )

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id}: {len(self.task_dict)} tasks>"


def plain_datetime(value: Any) -> Any:
    """A datetime subclass (pendulum's DateTime) as a plain datetime in the same time zone,
    the zone a plain one too (a ZoneInfo of the same name, or a fixed offset).

    The DAG's dates travel to the DAG processor's parent and the scheduler,
    which must be able to unpickle them without the subclass's module.
    """
    if isinstance(value, dt.datetime) and type(value) is not dt.datetime:
        return dt.datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=_plain_zone(value.tzinfo),
            fold=value.fold,
        )
    return value


def _plain_zone(zone: dt.tzinfo | None) -> dt.tzinfo | None:
    if zone is None or type(zone) in {dt.timezone, zoneinfo.ZoneInfo}:
        return zone
    if isinstance(zone, zoneinfo.ZoneInfo):  # pendulum's Timezone
        return zoneinfo.ZoneInfo(zone.key)
    offset = zone.utcoffset(None)  # pendulum's FixedTimezone
    return zone if offset is None else dt.timezone(offset)


def _positive_or_none(dag_id: str, name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be an int >= 1, got {value!r}.")
    return value


def _continuous_max_active_runs(dag_id: str, value: int | None) -> int:
    """A "@continuous" DAG runs one run at a time: max_active_runs is 1, unset or not."""
    if value is not None and value > 1:
        raise DagDefinitionError(
            f"DAG {dag_id!r}: schedule='@continuous' runs one run at a time, so it needs "
            f"max_active_runs=1 (got {value}); set max_active_runs=1 or leave it out."
        )
    return 1


def _optional_str(dag_id: str, name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be a string, got {value!r}.")
    return value


def _string_list(dag_id: str, name: str, values: Iterable[Any] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be a list of strings.")
    items = list(values)
    for item in items:
        if not isinstance(item, str):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: {name} must be a list of strings; {item!r} is not a string."
            )
    return items


def _mapping(dag_id: str, name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be a dict, got {value!r}.")
    return dict(value)


def _owner_links(dag_id: str, links: Mapping[str, str] | None) -> dict[str, str]:
    result = _mapping(dag_id, "owner_links", links)
    for owner, link in result.items():
        if not isinstance(link, str) or not link.startswith(("http://", "https://", "mailto:")):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: owner_links[{owner!r}] must be an http(s):// or mailto: link, "
                f"got {link!r}."
            )
    return result


def _optional_delta(dag_id: str, name: str, value: Any) -> dt.timedelta | None:
    if value is None:
        return None
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise DagDefinitionError(
            f"DAG {dag_id!r}: {name} must be a positive datetime.timedelta, got {value!r}."
        )
    return value


def _callbacks(dag_id: str, name: str, value: Any) -> list[DagCallback]:
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not callable(item):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: {name} must be a callable or a list of callables, got {item!r}."
            )
    return items


def _caller_file() -> str | None:
    """The file of the first frame outside taskkit's authoring package: the DAG file."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_AUTHORING_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_code.co_filename if frame is not None else None


F = TypeVar("F", bound=Callable[..., Any])
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
#: Every DAG argument taskkit implements (for the did-you-mean of a misspelt one).
_DAG_ARGS = tuple(inspect.signature(DAG.__init__).parameters)[1:-1]


class DagFunction:
    """What `@dag` returns: calling it builds a fresh DAG from the function body.

    The function's parameters become DAG params, as in Airflow: each one's
    value (the argument given to this call, else its default) is the param's
    default, over a same-named entry of `params=` whose Param keeps its schema
    and description. A parameter with neither takes its value from `params=`.
    Inside the body each parameter is a DagParam: handed to a task or an
    operator field, it resolves to the run's value (after --conf overrides and
    validation).
    """

    def __init__(self, function: Callable[..., Any], dag_kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.dag_kwargs = dict(dag_kwargs)
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> DAG:
        dag_id = self.dag_kwargs.get("dag_id", self.function.__name__)
        options = {k: v for k, v in self.dag_kwargs.items() if k != "dag_id"}
        if self.function.__doc__ and "description" not in options:
            options["description"] = self.function.__doc__.strip().splitlines()[0]
        if self.function.__doc__ and options.get("doc_md") is None:
            # As Airflow's @dag does: the docstring is the DAG's documentation.
            options["doc_md"] = self.function.__doc__
        params, call_args, call_kwargs = self._params(dag_id, options.get("params"), args, kwargs)
        if params:
            options["params"] = params
        with DAG(dag_id, **options) as new_dag:
            self.function(*call_args, **call_kwargs)
        return new_dag

    def _params(
        self,
        dag_id: str,
        declared: Mapping[str, Any] | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> tuple[ParamsDict, list[Any], dict[str, Any]]:
        """The DAG's params with the function's parameters merged in, and the call's
        arguments: a DagParam for each parameter (`*args`/`**kwargs` pass through)."""
        signature = inspect.signature(self.function)
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(
                f"@dag function {self.function.__name__!r}: {exc}; call it with arguments "
                "that match its parameters."
            ) from None
        bound.apply_defaults()
        try:
            params = ParamsDict(declared)
            values = {
                name: value
                for name, value in bound.arguments.items()
                if signature.parameters[name].kind not in _VARIADIC
            }
            params.update(values)
        except ParamValidationError as err:  # a value JSON cannot hold: name the DAG too
            raise ParamValidationError(err.param, err.problem, dag_id=dag_id) from None
        call_args: list[Any] = []
        call_kwargs: dict[str, Any] = {}
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                call_args.extend(bound.arguments.get(name, ()))
                continue
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                call_kwargs.update(bound.arguments.get(name, {}))
                continue
            if name not in params:
                raise ParamValidationError(
                    name,
                    f"the @dag function's parameter {name!r} has no default: give it one "
                    "(it becomes the param's default), declare it in params=, or pass a "
                    "value when calling the function.",
                    dag_id=dag_id,
                )
            reference = DagParam(dag_id, name)
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                call_kwargs[name] = reference
            else:
                call_args.append(reference)
        return params, call_args, call_kwargs


@overload
def dag(function: Callable[..., Any], /) -> DagFunction: ...
@overload
def dag(
    function: None = None, /, **dag_kwargs: Any
) -> Callable[[Callable[..., Any]], DagFunction]: ...
def dag(
    function: Callable[..., Any] | None = None, /, **dag_kwargs: Any
) -> DagFunction | Callable[[Callable[..., Any]], DagFunction]:
    """Turn a function into a DAG factory: `@dag` or `@dag(schedule=..., ...)`.

    `dag_id` defaults to the function's name. Calling the decorated function
    returns a DAG.
    """
    if function is not None:
        return DagFunction(function, dag_kwargs)

    def decorate(fn: Callable[..., Any]) -> DagFunction:
        return DagFunction(fn, dag_kwargs)

    return decorate
