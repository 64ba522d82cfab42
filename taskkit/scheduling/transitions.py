"""PURE: what a finished try means (its next state, whom it skips), and when a run is over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from taskkit.model.dag import DagSpec
from taskkit.model.results import Deferral, SkipScope, TryOutcome, TryResult
from taskkit.model.task import TaskSpec
from taskkit.states import FAILURE_STATES, FINISHED_STATES, RunState, State

_MICROSECOND = dt.timedelta(microseconds=1)
_MAX_DELTA_MICROS = dt.timedelta.max // _MICROSECOND


@attrs.frozen
class TryTransition:
    """The task instance's next state, and when to retry if it is up for retry."""

    state: State
    next_retry_at: dt.datetime | None = None


def retry_delay_for(
    task: TaskSpec, try_number: int, override: dt.timedelta | None = None
) -> dt.timedelta:
    """The wait before the try after `try_number`.

    With retry_exponential_backoff the delay doubles each try (no random
    jitter, so tests and `tasks why` can state the exact time), capped by
    max_retry_delay. Never raises, however many tries came before.
    """
    delay = task.retry_delay if override is None else override
    if task.retry_exponential_backoff and delay:
        # Double in whole microseconds (exact ints), then clamp to what a timedelta holds,
        # so a late try with a huge multiplier still honours max_retry_delay.
        micros = (delay // _MICROSECOND) << min(max(try_number - 1, 0), 128)
        delay = _MICROSECOND * min(micros, _MAX_DELTA_MICROS)
    if task.max_retry_delay is not None:
        delay = min(delay, task.max_retry_delay)
    return delay


def after_try(
    task: TaskSpec,
    try_number: int,
    outcome: TryOutcome,
    now: dt.datetime,
    retry_delay: dt.timedelta | None = None,
    *,
    policy_delay: dt.timedelta | None = None,
) -> TryTransition:
    """The state a task instance moves to once try number `try_number` ended.

    `retry_delay` replaces the task's own (backoff and max_retry_delay still
    apply: DAG.test()'s); `policy_delay`, a retry policy's choice, is the
    wait itself, as Airflow uses it.
    """
    if outcome is TryOutcome.SUCCESS:
        return TryTransition(State.SUCCESS)
    if outcome is TryOutcome.SKIPPED:
        return TryTransition(State.SKIPPED)
    if try_number < task.max_tries:
        try:
            if policy_delay is not None and retry_delay is None:
                at = now + policy_delay
            else:
                at = now + retry_delay_for(task, try_number, retry_delay)
        except OverflowError:
            at = dt.datetime.max.replace(tzinfo=now.tzinfo)
        return TryTransition(State.UP_FOR_RETRY, next_retry_at=at)
    return TryTransition(State.FAILED)


def deferred_reason(deferral: Deferral) -> str:
    """`taskkit tasks why` for a deferred task: what it waits on, and until when at most."""
    trigger = deferral.classpath.rsplit(".", 1)[-1]
    until = f", timeout at {deferral.timeout_at.isoformat()}" if deferral.timeout_at else ""
    return f"deferred: waiting for {trigger} to fire in the triggerer{until}"


def reschedule_reason(next_poke_at: dt.datetime | None) -> str:
    """What `tasks why` and the API say of a sensor waiting between pokes."""
    at = next_poke_at.isoformat(timespec="seconds") if next_poke_at else "an unknown time"
    return f"up for reschedule, next poke at {at}"


def run_outcome(leaves: Iterable[str], states: Mapping[str, State]) -> RunState | None:
    """The run's final state once every task has finished, else None.

    As in Airflow, the leaves decide: a failed task whose downstream
    (all_done, say) succeeded does not fail the run.
    """
    if any(state not in FINISHED_STATES for state in states.values()):
        return None
    if any(states[leaf] in FAILURE_STATES for leaf in leaves):
        return RunState.FAILED
    return RunState.SUCCESS


def skipped_by(dag: DagSpec, task_id: str, result: TryResult) -> Iterable[str]:
    """The tasks a successful try's branch choice or short circuit skips directly."""
    spec = dag.tasks[task_id]
    if result.follow is not None:
        # A direct downstream task also reachable from a chosen one (the "join" of
        # an empty branch) is not skipped: it runs after the chosen path.
        keep = set(result.follow)
        for chosen in result.follow:
            keep |= dag.descendants(chosen)
        return sorted(spec.downstream - keep)
    if result.skip_downstream is None:
        return ()
    if result.skip_downstream is SkipScope.ALL:
        targets: Iterable[str] = dag.descendants(task_id)
    else:
        targets = spec.downstream
    # A short circuit never skips cleaning up: teardowns follow their trigger rule.
    return sorted(t for t in targets if not dag.tasks[t].is_teardown)
