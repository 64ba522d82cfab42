"""The run context a task sees: `ti`, `dag_run`, `logical_date`, `params`, `conf` and friends."""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import attrs

from taskkit.errors import TaskkitError
from taskkit.model.results import SkipScope

#: The mapping passed to execute() and templates, and returned by get_current_context().
Context = dict[str, Any]

_current: contextvars.ContextVar[Context] = contextvars.ContextVar("taskkit_context")


class XComAccess(Protocol):
    """Where a try reads upstream values and writes its own (in memory or the metastore)."""

    def pull(self, task_id: str, key: str) -> Any: ...

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

        With no task_ids, this task's own value, as in Airflow. A try sees the
        values of this task and of every task upstream of it, however far;
        the value of a task that did not run (or is not upstream) is `default`.
        """
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            value = self.xcom.pull(task_ids, key)
            return default if value is None else value
        return [self.xcom.pull(t, key) for t in task_ids]

    def xcom_push(self, key: str, value: Any) -> None:
        """Store an extra value under `key` for downstream tasks."""
        self.xcom.push(self.task_id, key, value)


def base_context(run: DagRunInfo, params: Mapping[str, Any]) -> Context:
    """The part of the context shared by every try of a run (built once per run)."""
    logical_date = run.logical_date
    merged_params = {**params, **{k: v for k, v in run.conf.items() if k in params}}
    return {
        "dag_run": run,
        "run_id": run.run_id,
        "logical_date": logical_date,
        "ds": logical_date.strftime("%Y-%m-%d"),
        "ds_nodash": logical_date.strftime("%Y%m%d"),
        "ts": logical_date.isoformat(),
        "ts_nodash": logical_date.strftime("%Y%m%dT%H%M%S"),
        "data_interval_start": run.data_interval_start or logical_date,
        "data_interval_end": run.data_interval_end or logical_date,
        "params": merged_params,
        "conf": run.conf,
    }


def try_context(base: Context, ti: TaskInstanceInfo, task: Any) -> Context:
    """The context of one try: the run's plus `ti`, `task` and `try_number`."""
    context = base.copy()
    context["ti"] = ti
    context["task_instance"] = ti
    context["task"] = task
    context["try_number"] = ti.try_number
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
