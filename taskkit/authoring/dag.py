"""DAG: a set of tasks, their dependencies and run-level limits; `@dag` builds one."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from taskkit.authoring import registry
from taskkit.authoring.schedules import validate_schedule
from taskkit.errors import (
    CycleError,
    DagAssignmentError,
    DagDefinitionError,
    DuplicateTaskIdError,
    TaskNotFoundError,
)
from taskkit.model.dag import DagSpec
from taskkit.model.graph import find_cycle, priority_weight_totals, topological_order

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.testing import DagRunResult

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
        schedule: str | dt.timedelta | None = None,
        start_date: dt.datetime | None = None,
        end_date: dt.datetime | None = None,
        catchup: bool = False,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        default_args: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        description: str | None = None,
    ) -> None:
        if not isinstance(dag_id, str) or not dag_id or not set(dag_id) <= _DAG_ID_CHARS:
            raise DagDefinitionError(
                f"DAG id {dag_id!r} is not valid: use letters, digits, '_', '-' or '.'."
            )
        self.dag_id = dag_id
        self.schedule = validate_schedule(dag_id, schedule, start_date, end_date)
        self.start_date = start_date
        self.end_date = end_date
        self.catchup = catchup
        self.max_active_runs = _positive_or_none(dag_id, "max_active_runs", max_active_runs)
        self.max_active_tasks = _positive_or_none(dag_id, "max_active_tasks", max_active_tasks)
        self.default_args: dict[str, Any] = dict(default_args or {})
        self.params: dict[str, Any] = dict(params or {})
        self.tags = list(tags)
        self.description = description
        self.fileloc = _caller_file()
        self.task_dict: dict[str, BaseOperator] = {}
        self._spec: DagSpec | None = None
        registry.announce(self)

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
        self.task_dict[task.task_id] = task
        self.invalidate()

    def unique_task_id(self, base: str) -> str:
        """`base`, or `base__1`, `base__2`… when a task function is called again."""
        if base not in self.task_dict:
            return base
        n = 1
        while f"{base}__{n}" in self.task_dict:
            n += 1
        return f"{base}__{n}"

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
    ) -> DagRunResult:
        """Run the whole DAG in this process and return what happened.

        Uses the scheduler's own readiness and selection rules, so trigger
        rules, pools, pool_slots, priorities and retries behave as they will
        in production. Touches no database and writes no files.
        """
        from taskkit.testing import run_dag_test

        return run_dag_test(
            self,
            logical_date=logical_date,
            conf=conf,
            pools=pools,
            parallelism=parallelism,
            retry_delay=retry_delay,
        )

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id}: {len(self.task_dict)} tasks>"


def _positive_or_none(dag_id: str, name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be an int >= 1, got {value!r}.")
    return value


def _caller_file() -> str | None:
    """The file of the first frame outside taskkit's authoring package: the DAG file."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_AUTHORING_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_code.co_filename if frame is not None else None


F = TypeVar("F", bound=Callable[..., Any])


class DagFunction:
    """What `@dag` returns: calling it builds a fresh DAG from the function body."""

    def __init__(self, function: Callable[..., Any], dag_kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.dag_kwargs = dict(dag_kwargs)
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> DAG:
        dag_id = self.dag_kwargs.get("dag_id", self.function.__name__)
        options = {k: v for k, v in self.dag_kwargs.items() if k != "dag_id"}
        if self.function.__doc__ and "description" not in options:
            options["description"] = self.function.__doc__.strip().splitlines()[0]
        with DAG(dag_id, **options) as new_dag:
            self.function(*args, **kwargs)
        return new_dag


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
