"""ExternalTaskSensor waits for another DAG's run (or tasks of it); ExternalTaskMarker clears them.

Each poke reads (only reads) the metastore named by the try's settings
(TASKKIT_HOME and TASKKIT__* variables, as the scheduler's); task states stay
the scheduler's to write.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring.operators import EmptyOperator
from taskkit.authoring.sensor import BaseSensorOperator
from taskkit.errors import (
    AirflowSkipException,
    ExternalTaskFailedError,
)
from taskkit.sensors.external_states import external_states
from taskkit.states import RunState, State
from taskkit.triggers.external_task import WorkflowTrigger

if TYPE_CHECKING:
    from taskkit.authoring.context import Context

_TASK_STATES = frozenset(s.value for s in State)
_RUN_STATES = frozenset(s.value for s in RunState)


class ExternalTaskSensor(BaseSensorOperator):
    """Done when `external_dag_id`'s run at the computed logical date is in `allowed_states`.

    With `external_task_id` or `external_task_ids` it waits for those tasks
    of that run instead (a mapped task counts once all its instances are in
    an allowed state). The logical date is this run's, minus
    `execution_delta`, or what `execution_date_fn(logical_date, **context)`
    returns (a datetime or a list of them: all must be allowed). Reaching a
    `failed_states` state fails the task (skips it with `soft_fail`);
    reaching a `skipped_states` state skips it.

    With `external_task_group_id` it waits for every task of that task group
    (its task ids start with "<group_id>.", as groups name their tasks), as
    Airflow 3.3 does: a run counts as allowed, skipped or failed when all the
    group's task instances in it are in that list of states.

    With `deferrable=True` it waits in the triggerer (a WorkflowTrigger
    polling every `poke_interval`), holding no slot.
    """

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Collection[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: dt.timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(external_dag_id, str) or not external_dag_id:
            raise self._fail(f"external_dag_id must be a DAG id, got {external_dag_id!r}.")
        if external_task_id is not None and external_task_ids:
            raise self._fail("pass external_task_id or external_task_ids, not both.")
        if external_task_group_id is not None and (external_task_id or external_task_ids):
            raise self._fail(
                "pass external_task_group_id or external_task_id(s), not both: a group "
                "already waits for all of its tasks."
            )
        if external_task_group_id is not None and (
            not isinstance(external_task_group_id, str) or not external_task_group_id
        ):
            raise self._fail(
                f"external_task_group_id must be a task group id, got {external_task_group_id!r}."
            )
        if execution_delta is not None and execution_date_fn is not None:
            raise self._fail("pass execution_delta or execution_date_fn, not both.")
        if execution_delta is not None and not isinstance(execution_delta, dt.timedelta):
            raise self._fail(f"execution_delta must be a timedelta, got {execution_delta!r}.")
        if execution_date_fn is not None and not callable(execution_date_fn):
            raise self._fail(f"execution_date_fn must be callable, got {execution_date_fn!r}.")
        self.external_dag_id = external_dag_id
        ids = [external_task_id] if external_task_id is not None else list(external_task_ids or [])
        if len(ids) != len(set(ids)):
            raise self._fail(f"external_task_ids {ids} names a task twice.")
        self.external_task_ids: list[str] | None = ids or None
        self.external_task_id = external_task_id
        self.external_task_group_id = external_task_group_id
        self.allowed_states = [str(s) for s in allowed_states or [State.SUCCESS.value]]
        self.skipped_states = [str(s) for s in skipped_states or []]
        self.failed_states = [str(s) for s in failed_states or []]
        self._check_states()
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = self._check_bool("check_existence", check_existence)
        self.deferrable = self._check_bool("deferrable", deferrable)

    def _check_states(self) -> None:
        given = [*self.allowed_states, *self.skipped_states, *self.failed_states]
        if len(given) != len(set(given)):
            raise self._fail(
                "a state appears more than once across allowed_states, skipped_states and "
                "failed_states; list each state once."
            )
        on_tasks = self.external_task_ids or self.external_task_group_id
        valid, kind = (_TASK_STATES, "task") if on_tasks else (_RUN_STATES, "run")
        wrong = sorted(set(given) - valid)
        if wrong:
            names = ", ".join(map(repr, wrong))
            raise self._fail(f"{names} is not a {kind} state; use {', '.join(sorted(valid))}.")

    def logical_dates(self, context: Context) -> list[dt.datetime]:
        """The external runs' logical dates this sensor looks at."""
        logical_date: dt.datetime = context["logical_date"]
        if self.execution_delta is not None:
            return [logical_date - self.execution_delta]
        if self.execution_date_fn is None:
            return [logical_date]
        found = _call_with_context(self.execution_date_fn, logical_date, context)
        dates = found if isinstance(found, (list, tuple)) else [found]
        if not dates or not all(isinstance(d, dt.datetime) for d in dates):
            raise TypeError(
                f"execution_date_fn returned {found!r}; return a datetime or a list of them."
            )
        return [d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc) for d in dates]

    def execute(self, context: Context) -> Any:
        """Poke as any sensor; deferrable, poke once, then wait in a WorkflowTrigger."""
        if not self.deferrable:
            return super().execute(context)
        if not self.poke(context):
            self.defer_to(
                WorkflowTrigger(
                    self.external_dag_id,
                    self.logical_dates(context),
                    external_task_ids=self.external_task_ids,
                    external_task_group_id=self.external_task_group_id,
                    allowed_states=self.allowed_states,
                    failed_states=self.failed_states,
                    skipped_states=self.skipped_states,
                    poke_interval=self.poke_interval,
                )
            )
        return None

    def execute_complete(self, context: Context, event: Any = None) -> None:
        """The WorkflowTrigger fired: done, failed or skipped, as its status says."""
        status = event.get("status") if isinstance(event, dict) else None
        states = event.get("states") if isinstance(event, dict) else None
        target = self._target()
        if status == "success":
            print(f"{target} {self.external_dag_id!r} reached an allowed state: {states}")
            return
        message = f"{target} {self.external_dag_id!r} reached {status} states: {states}"
        if status == "skipped" or self.soft_fail:
            raise AirflowSkipException(message)
        raise ExternalTaskFailedError(message)

    def _target(self) -> str:
        if self.external_task_ids:
            return f"tasks {self.external_task_ids} of"
        if self.external_task_group_id:
            return f"task group {self.external_task_group_id!r} of"
        return "DAG"

    def poke(self, context: Context) -> bool:
        dates = self.logical_dates(context)
        target = self._target()
        shown = ", ".join(d.isoformat() for d in dates)
        print(f"Poking for {target} {self.external_dag_id!r} on {shown}")
        states = self._states(dates)
        if any(s in self.failed_states for s in states.values()):
            message = f"{target} {self.external_dag_id!r} on {shown} failed: {_show(states)}"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise ExternalTaskFailedError(message)
        if any(s in self.skipped_states for s in states.values()):
            raise AirflowSkipException(
                f"{target} {self.external_dag_id!r} on {shown} reached a state to skip on: "
                f"{_show(states)}"
            )
        return len(states) == self._expected(dates) and all(
            s in self.allowed_states for s in states.values()
        )

    def _expected(self, dates: Sequence[dt.datetime]) -> int:
        return len(dates) * (len(self.external_task_ids) if self.external_task_ids else 1)

    def _states(self, dates: Sequence[dt.datetime]) -> dict[tuple[dt.datetime, str], str]:
        return external_states(
            self.external_dag_id,
            dates,
            self.external_task_ids,
            self.failed_states,
            group_id=self.external_task_group_id,
            skipped_states=self.skipped_states,
            allowed_states=self.allowed_states,
            check_existence=self.check_existence,
        )


def _call_with_context(
    function: Callable[..., Any], logical_date: dt.datetime, context: Context
) -> Any:
    """Call `function(logical_date, ...)` with the context values it names (all with **kwargs)."""
    parameters = list(inspect.signature(function).parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        extra = {k: v for k, v in context.items() if k != "logical_date"}
        return function(logical_date, **extra, context=context)
    names = {p.name for p in parameters[1:]}
    extra = {k: v for k, v in context.items() if k in names and k != "logical_date"}
    if "context" in names:
        extra["context"] = context
    return function(logical_date, **extra)


def _show(states: dict[tuple[dt.datetime, str], str]) -> str:
    return ", ".join(f"{task or 'run'}={state or 'mixed'}" for (_, task), state in states.items())


class ExternalTaskMarker(EmptyOperator):
    """Does nothing when run; clearing it also clears `external_task_id` of `external_dag_id`.

    The cleared task is the one in that DAG's run at `logical_date`
    (templated; this run's by default), with its downstream tasks; markers
    among those are followed in turn, at most `recursion_depth` DAGs deep
    (services/task_instances.clear does it, for the CLI, the API and the UI).
    """

    template_fields: ClassVar[tuple[str, ...]] = (
        "external_dag_id",
        "external_task_id",
        "logical_date",
    )

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str,
        logical_date: str | dt.datetime = "{{ logical_date.isoformat() }}",
        recursion_depth: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (
            ("external_dag_id", external_dag_id),
            ("external_task_id", external_task_id),
        ):
            if not isinstance(value, str) or not value:
                raise self._fail(f"{name} must be a non-empty string, got {value!r}.")
        if not isinstance(logical_date, (str, dt.datetime)):
            raise self._fail(f"logical_date must be a datetime or a string, got {logical_date!r}.")
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.logical_date = (
            logical_date.isoformat() if isinstance(logical_date, dt.datetime) else logical_date
        )
        self.recursion_depth = self._check_int("recursion_depth", recursion_depth, minimum=1)
