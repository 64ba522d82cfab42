"""Run one try: build its context, render its templates, call it, collect what it pushed.

`run_try` is the one way a try runs, whoever runs it: the Local and Celery
workers, DAG.test() and `taskkit tasks test`. It is the user-code boundary:
whatever the task raises is recorded as the try's error (with its traceback
on stderr, which is the try's log), never re-raised as a taskkit error.
"""

from __future__ import annotations

import copy
import datetime as dt
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.authoring.context import (
    DagRunInfo,
    TaskInstanceInfo,
    active_context,
    dag_base_context,
    try_context,
)
from taskkit.authoring.decorators import find_xcom_args, resolve_xcom_args
from taskkit.authoring.masking import masked_output, redact
from taskkit.authoring.templating import render, renderer_for
from taskkit.errors import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AssetRefNotFoundError,
    TaskDeferred,
    TaskTimeoutError,
)
from taskkit.execution.rendered import rendered_fields
from taskkit.execution.workload import EncodedXCom
from taskkit.model.results import EncodedXComSequence, TryOutcome, TryResult

#: How long a task callback may run when its task has no execution_timeout.
CALLBACK_TIMEOUT = dt.timedelta(seconds=60)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.context import Context
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.retry_policy import RetryPolicy
    from taskkit.execution.workload import Workload


#: Finds a value a try's workload does not carry: (task_id, key, map_index or None for the
#: whole task) -> the encoded value (a mapped task's whole values as a sequence), or None.
XComLookup = Callable[[str, str, "int | None"], "EncodedXCom | EncodedXComSequence | None"]


class TryXCom:
    """A try's XCom access: the values it may pull (decoded when pulled), and what it pushes.

    `values` are the instance's own and its ancestors' (what its workload
    carries); any other task of the run is found with `lookup` when pulled
    (the run engine under DAG.test(), the metastore in a worker).
    """

    def __init__(
        self,
        task_id: str,
        values: Mapping[tuple[str, str], EncodedXCom | EncodedXComSequence],
        map_index: int = -1,
        lookup: XComLookup | None = None,
        dag: DAG | None = None,
    ) -> None:
        self.task_id = task_id
        self.values = values
        self.map_index = map_index
        self.lookup = lookup
        #: The try's DAG, to tell its ancestors (computed only when a pull misses).
        self._dag = dag
        self._ancestors: frozenset[str] | None = None
        self.pushed: dict[str, Any] = {}

    def pull(self, task_id: str, key: str) -> Any:
        """The task's value: the same instance's in this task's mapped group, a mapped task's
        values as a list (map-index order), else its one value; None if it pushed none."""
        if task_id == self.task_id and key in self.pushed:
            return self.pushed[key]
        encoded = self.values.get((task_id, key))  # this instance's own earlier values too
        if (
            encoded is None
            and self.lookup is not None
            and task_id != self.task_id
            and not self._carried(task_id)
        ):
            encoded = self.lookup(task_id, key, self.map_index if self._paired(task_id) else None)
        return _decoded(encoded)

    def pull_at(self, task_id: str, key: str, map_index: int) -> Any:
        """The value instance `map_index` of the task pushed under `key`, or None."""
        if task_id == self.task_id and map_index == self.map_index:
            return self.pull(task_id, key)
        encoded = self.values.get((task_id, key))
        if isinstance(encoded, EncodedXComSequence):
            for index, item in zip(encoded.map_indexes, encoded.values, strict=True):
                if index == map_index:
                    return decode_xcom(item)
            return None
        if self.lookup is None:
            return None
        return _decoded(self.lookup(task_id, key, map_index))

    def _carried(self, task_id: str) -> bool:
        """Whether the workload carries everything the task pushed (it is an ancestor)."""
        if self._dag is None:
            return False
        if self._ancestors is None:
            self._ancestors = ancestors_of(self._dag, self.task_id)
        return task_id in self._ancestors

    def _paired(self, task_id: str) -> bool:
        """Whether the task is in this instance's own mapped task group (same map index)."""
        if self.map_index < 0 or self._dag is None or task_id not in self._dag.task_dict:
            return False
        group = self._dag.task_dict[self.task_id].task_group.closest_mapped()
        return group is not None and (
            self._dag.task_dict[task_id].task_group.closest_mapped() is group
        )

    def push(self, task_id: str, key: str, value: Any) -> None:
        self.pushed[key] = value


def _decoded(encoded: EncodedXCom | EncodedXComSequence | None) -> Any:
    if encoded is None:
        return None
    if isinstance(encoded, EncodedXComSequence):  # a mapped task's values, reduced
        return [decode_xcom(item) for item in encoded.values]
    return decode_xcom(encoded)


def ancestors_of(dag: DAG, task_id: str) -> frozenset[str]:
    """Every task upstream of `task_id`, however far."""
    found: set[str] = set()
    pending = [task_id]
    while pending:
        for upstream in dag.task_dict[pending.pop()].upstream_task_ids:
            if upstream not in found:
                found.add(upstream)
                pending.append(upstream)
    return frozenset(found)


def encode_xcom(value: Any, *, allow_pickle: bool = False) -> EncodedXCom:
    """Encode a pushed value as tagged JSON, or (if allowed) as an unsigned pickle.

    Raises XComEncodeError naming the type and core.enable_xcom_pickling. A try
    holds no secret key: the scheduler signs a pickle before storing it.
    """
    from taskkit import xcom_codec  # lazy: a run whose tasks push nothing need not load it

    data, encoding = xcom_codec.encode_xcom(value, allow_pickle=allow_pickle, key=None)
    length = len(value) if isinstance(value, (list, tuple, dict)) else None
    return EncodedXCom(data, encoding.value, length)


def decode_xcom(encoded: EncodedXCom) -> Any:
    """A value as a try receives it: JSON, or a pickle the scheduler has verified.

    Only ever called in a try (or DAG.test()), never in the scheduler.
    """
    from taskkit import xcom_codec  # lazy: see encode_xcom

    return xcom_codec.decode_xcom(encoded.data, encoded.encoding, key=None)


def run_info(workload: Workload) -> DagRunInfo:
    """What a try may know about its run, from its workload."""
    previous = workload.previous_success
    return DagRunInfo(
        workload.key.dag_id,
        workload.key.run_id,
        workload.logical_date,
        workload.conf,
        workload.run_type,
        workload.data_interval_start,
        workload.data_interval_end,
        previous_point=workload.previous_point,
        **(previous.run_info_fields() if previous is not None else {}),
    )


def run_try(
    dag: DAG,
    workload: Workload,
    base: Context | None = None,
    *,
    stop_at: float | None = None,
    lookup: XComLookup | None = None,
) -> TryResult:
    """Run the try `workload` names of a task of `dag`; never raises for the task's errors.

    `base` is the run's part of the context when the caller runs many tries
    of one run (DAG.test() builds it once); else it is built here. `stop_at`
    (a time.monotonic() value) interrupts the try then, as when DAG.test()'s
    run reaches its dagrun_timeout (a worker's try is killed instead).
    The result carries every value the try pushed (its return value
    included, and what it pushed before failing) and what a branching
    task chose; the run engine decides what all of that means. Secrets the
    try read (authoring/masking.py) are `***` in its output and its error.
    `lookup` finds the values of tasks that are not ancestors, when the try
    pulls them. A mapped instance's `map_index_template` is rendered after
    the try, with its context (which the task may have added to), as Airflow does.
    """
    with masked_output:
        result = _run_try(dag, workload, base, stop_at=stop_at, lookup=lookup)
    if result.error:
        result = attrs.evolve(result, error=redact(result.error))
    return result


def _run_try(
    dag: DAG,
    workload: Workload,
    base: Context | None,
    *,
    stop_at: float | None,
    lookup: XComLookup | None,
) -> TryResult:
    key = workload.key
    operator: BaseOperator = dag.task_dict[key.task_id]
    if base is None:
        base = dag_base_context(run_info(workload), dag)
    xcom = TryXCom(key.task_id, workload.upstream_xcoms, key.map_index, lookup, dag)
    ti = TaskInstanceInfo(
        key.dag_id,
        key.task_id,
        key.run_id,
        workload.try_number,
        workload.max_tries,
        xcom,
        map_index=key.map_index,
        first_reschedule_date=workload.first_poke_at,
    )
    if key.map_index >= 0:
        unmapped = unmap_operator(operator, xcom, key.map_index)
        if isinstance(unmapped, TryResult):
            return unmapped
        operator = unmapped
    try:
        context = try_context(base, ti, operator)
    except AssetRefNotFoundError as exc:  # before the task runs, as Airflow checks its assets
        return TryResult(TryOutcome.FAILED, error=str(exc))
    _call_back(operator, "on_execute_callback", operator.on_execute_callback, context)
    resume = (
        (workload.next_method, workload.next_kwargs) if workload.next_method is not None else None
    )
    result, value = execute_try(operator, context, stop_at=stop_at, resume=resume)
    if result.outcome is TryOutcome.RESCHEDULED:
        # The sensor's timeout counts from the try's first poke, across reschedules.
        first = workload.first_poke_at or _utcnow() - dt.timedelta(seconds=result.duration_s)
        result = attrs.evolve(result, first_poke_at=first)
    if result.outcome is TryOutcome.SUCCESS and value is not None and operator.do_xcom_push:
        try:
            xcom.pushed.update(_outputs(operator, value))
        except TypeError as exc:
            result = attrs.evolve(result, outcome=TryOutcome.FAILED, error=str(exc))
    if key.map_index >= 0 and operator.map_index_template:
        result = _with_map_index(operator, operator.map_index_template, context, result)
    _call_back(operator, *_callback_for(operator, result, workload), context)
    if result.outcome is TryOutcome.SUCCESS and operator.outlets:
        result = attrs.evolve(result, asset_events=context["outlet_events"].events())
    encoded: dict[str, EncodedXCom] = {}
    for name, pushed in xcom.pushed.items():
        try:
            encoded[name] = encode_xcom(pushed, allow_pickle=workload.enable_xcom_pickling)
        except Exception as exc:
            return TryResult(
                TryOutcome.FAILED,
                error=f"XCom {name!r} ({type(pushed).__name__}) cannot be stored: "
                f"{type(exc).__name__}: {exc}",
                duration_s=result.duration_s,
                xcoms=encoded,
                rendered_fields=result.rendered_fields,
            )
    directives = ti.directives
    if not encoded and directives.follow is None and directives.skip_downstream is None:
        return result  # the common case: nothing to add
    return attrs.evolve(
        result,
        xcoms=encoded,
        follow=directives.follow,
        skip_downstream=directives.skip_downstream,
    )


def _with_map_index(
    operator: BaseOperator, template: str, context: Context, result: TryResult
) -> TryResult:
    """The result with the instance's map_index_template rendered against its context.

    After a failed try a template that cannot render is let go (the try's
    own error matters more); after a successful one it fails the try, as in Airflow.
    """
    try:
        rendered = renderer_for(operator).render_string(template, context)
    except Exception as exc:
        if result.outcome is not TryOutcome.SUCCESS:
            return result
        traceback.print_exc()
        error = f"map_index_template {template!r} cannot be rendered: {type(exc).__name__}: {exc}"
        return attrs.evolve(result, outcome=TryOutcome.FAILED, error=error)
    return attrs.evolve(result, rendered_map_index=str(rendered))


def unmap_operator(operator: BaseOperator, xcom: TryXCom, map_index: int) -> Any:
    """The operator of one instance of a mapped task, or a failed TryResult saying why not.

    A task of a mapped task group is not a MappedOperator: its instance is
    the task with the group's arguments (MappedArguments) in its template
    fields resolved for this map index (a `@task` resolves its own arguments).
    """
    # Lazy: a DAG with a mapped task loaded it to build that task; others never need it.
    from taskkit.authoring.mapping import MappedOperator

    try:
        if isinstance(operator, MappedOperator):
            return operator.unmap(xcom, map_index)
        if operator.task_group.closest_mapped() is not None:
            return _resolve_group_arguments(operator, xcom)
    except Exception as exc:
        traceback.print_exc()
        return TryResult(TryOutcome.FAILED, error=f"{type(exc).__name__}: {exc}", retryable=False)
    return TryResult(
        TryOutcome.FAILED,
        error=f"task {operator.task_id!r} is not mapped in this DAG version, but its "
        f"instance {map_index} was asked to run",
        retryable=False,
    )


def _resolve_group_arguments(operator: BaseOperator, xcom: TryXCom) -> BaseOperator:
    """The operator with task outputs in its template fields replaced by their values here."""
    resolved = {
        field: resolve_xcom_args(getattr(operator, field), xcom)
        for field in operator.template_fields
        if find_xcom_args(getattr(operator, field))
    }
    if not resolved:
        return operator
    task = copy.copy(operator)
    for field, value in resolved.items():
        setattr(task, field, value)
    return task


def _outputs(operator: BaseOperator, value: Any) -> dict[str, Any]:
    """What a returned value pushes: itself, and with multiple_outputs each of its keys."""
    if not operator.multiple_outputs:
        return {"return_value": value}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(
            f"Task {operator.task_id!r} has multiple_outputs=True but returned "
            f"{type(value).__name__}; return a dict with str keys, or set multiple_outputs=False."
        )
    return {**value, "return_value": value}


def _callback_for(
    operator: BaseOperator, result: TryResult, workload: Workload
) -> tuple[str, list[Callable[[Context], Any]]]:
    """Which of the task's callbacks the try's outcome calls for, as Airflow picks them."""
    if result.outcome is TryOutcome.SUCCESS:
        return "on_success_callback", operator.on_success_callback
    if result.outcome is TryOutcome.SKIPPED:
        return "on_skipped_callback", operator.on_skipped_callback
    if result.outcome in (TryOutcome.RESCHEDULED, TryOutcome.DEFERRED):
        return "", []  # the try goes on later: no callback, as in Airflow
    if result.retryable and workload.try_number < workload.max_tries:
        return "on_retry_callback", operator.on_retry_callback
    return "on_failure_callback", operator.on_failure_callback


def _call_back(
    operator: BaseOperator, name: str, callbacks: list[Callable[[Context], Any]], context: Context
) -> None:
    """Call each callback with the context; one that raises or hangs is logged, nothing more.

    They run inside the try's process (never in the scheduler), bounded by the
    task's execution_timeout, else CALLBACK_TIMEOUT.
    """
    for callback in callbacks:
        try:
            with _alarm(operator.execution_timeout or CALLBACK_TIMEOUT):
                callback(context)
        except Exception as exc:
            label = getattr(callback, "__name__", repr(callback))
            print(f"{name} {label} failed:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)


def execute_try(
    operator: BaseOperator,
    context: Context,
    *,
    stop_at: float | None = None,
    resume: tuple[str, str | None] | None = None,
) -> tuple[TryResult, Any]:
    """Run `operator` once with `context`: its result, and the value execute() returned.

    The result carries the fields as rendered (also when the try then
    failed: that is when they are read), none when rendering itself failed.
    With `resume` (next_method, next_kwargs) a deferred try resumes through
    `resume_execution` instead of `execute`.
    """
    started = time.perf_counter()
    shown: dict[str, Any] = {}
    try:
        with active_context(context), _alarm(operator.execution_timeout, stop_at):
            task = render_fields(operator, context)
            if task.template_fields:
                shown = rendered_fields(task)
            if resume is None:
                value = task.execute(context)
            else:
                # Lazy, as deferral_of below: only a deferring task needs tagged JSON.
                from taskkit.execution.deferral import resume_kwargs

                value = task.resume_execution(resume[0], resume_kwargs(resume[1]), context)
    except AirflowSkipException as skip:
        return TryResult(
            TryOutcome.SKIPPED,
            error=str(skip) or None,
            duration_s=time.perf_counter() - started,
            rendered_fields=shown,
        ), None
    except AirflowRescheduleException as reschedule:
        return TryResult(
            TryOutcome.RESCHEDULED,
            duration_s=time.perf_counter() - started,
            reschedule_at=reschedule.reschedule_date,
            rendered_fields=shown,
        ), None
    except TaskDeferred as deferred:
        from taskkit.execution.deferral import deferral_of  # lazy: see resume_kwargs above

        try:
            deferral = deferral_of(deferred, _utcnow())
        except TypeError as exc:
            print(f"Cannot defer: {exc}", file=sys.stderr)
            return TryResult(
                TryOutcome.FAILED,
                error=f"TypeError: {exc}",
                duration_s=time.perf_counter() - started,
                rendered_fields=shown,
            ), None
        print(f"Deferred to {deferral.classpath}; resumes with {deferral.next_method}()")
        return TryResult(
            TryOutcome.DEFERRED,
            duration_s=time.perf_counter() - started,
            deferral=deferral,
            rendered_fields=shown,
        ), None
    except BaseException as exc:  # user code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exc()
        context["exception"] = exc  # what failure and retry callbacks read, as in Airflow
        # As in Airflow, a sensor's timeout fails the task without using its retries, and
        # neither it nor AirflowFailException asks the retry policy.
        retryable, retry_delay = True, None
        if isinstance(exc, (AirflowFailException, AirflowSensorTimeout)):
            retryable = False
        elif (policy := getattr(operator, "retry_policy", None)) is not None:
            retryable, retry_delay = _ask_retry_policy(policy, exc, context)
        return TryResult(
            TryOutcome.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            duration_s=time.perf_counter() - started,
            retryable=retryable,
            rendered_fields=shown,
            retry_delay=retry_delay,
        ), None
    duration = time.perf_counter() - started
    return TryResult(TryOutcome.SUCCESS, duration_s=duration, rendered_fields=shown), value


def _ask_retry_policy(
    policy: RetryPolicy, exc: BaseException, context: Context
) -> tuple[bool, dt.timedelta | None]:
    """(retryable, the policy's delay) for a failed try, as its task's retry policy decides.

    A policy that raises or returns no RetryDecision leaves the task's own retry
    rules in charge, as in Airflow; the try's log says why.
    """
    # Lazy: only a task with a retry policy fails through here.
    from taskkit.authoring.retry_policy import RetryAction, RetryDecision

    ti = context["ti"]
    try:
        # Airflow's max_tries counts the retries alone.
        decision = policy.evaluate(
            exception=exc, try_number=ti.try_number, max_tries=ti.max_tries - 1, context=context
        )
    except Exception:
        traceback.print_exc()
        print("Retry policy failed; the task's own retry rules apply.")
        return True, None
    if not isinstance(decision, RetryDecision):
        print(
            f"Retry policy returned {decision!r}, not a RetryDecision; "
            "the task's own retry rules apply."
        )
        return True, None
    if decision.reason:
        print(f"Retry policy: {decision.action.value} ({decision.reason})")
    if decision.action is RetryAction.FAIL:
        return False, None
    return True, decision.retry_delay if decision.action is RetryAction.RETRY else None


def render_fields(operator: BaseOperator, context: Context) -> BaseOperator:
    """The operator with its template fields rendered; a copy, so the original stays reusable.

    Another task's output in a field (`output_fields`) becomes its value after the
    rest is rendered: as in Airflow, the value is used as it was pushed, not as a template.
    """
    rendered: dict[str, Any] = {}
    for field in operator.template_fields:
        value = getattr(operator, field)
        new = render(value, context)
        if field in operator.output_fields:
            new = resolve_xcom_args(new, context["ti"].xcom)
        if new is not value:
            rendered[field] = new
    if not rendered:
        return operator
    task = copy.copy(operator)
    for field, value in rendered.items():
        setattr(task, field, value)
    return task


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _alarm(
    timeout: dt.timedelta | None, stop_at: float | None = None
) -> AbstractContextManager[None]:
    """Raise TaskTimeoutError in the task after `timeout` (or at `stop_at`), where signals allow.

    Worker processes are also killed by their parent past the timeout; this
    makes the in-process runner (DAG.test) honour it too.
    """
    if timeout is None and stop_at is None:
        return _NO_ALARM  # the common case, without a generator per try
    return _armed(timeout, stop_at)


_NO_ALARM = nullcontext()


@contextmanager
def _armed(timeout: dt.timedelta | None, stop_at: float | None) -> Iterator[None]:
    seconds = None if timeout is None else timeout.total_seconds()
    reason = f"execution_timeout of {seconds:g}s exceeded" if seconds is not None else ""
    if stop_at is not None:
        left = max(stop_at - time.monotonic(), 1e-3)  # 0 would disarm the timer
        if seconds is None or left < seconds:
            seconds, reason = left, "the run's dagrun_timeout passed"
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise TaskTimeoutError(reason)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
