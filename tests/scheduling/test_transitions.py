"""After a try: success, skip, retry with its delay, or failure; and the run's final state."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit.model.results import TryOutcome
from taskkit.model.task import TaskSpec
from taskkit.scheduling.transitions import after_try, retry_delay_for, run_outcome
from taskkit.states import RunState, State

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)


def test_success_and_skip_end_the_task() -> None:
    """A successful or skipped try ends the task with that state."""
    task = TaskSpec("t", retries=3)
    assert after_try(task, 1, TryOutcome.SUCCESS, NOW).state is State.SUCCESS
    assert after_try(task, 1, TryOutcome.SKIPPED, NOW).state is State.SKIPPED


def test_a_failed_try_with_retries_left_is_up_for_retry_after_the_delay() -> None:
    """A failure before the last try schedules the next one retry_delay later."""
    task = TaskSpec("t", retries=2, retry_delay=MIN)
    transition = after_try(task, 2, TryOutcome.FAILED, NOW)
    assert transition.state is State.UP_FOR_RETRY
    assert transition.next_retry_at == NOW + MIN


def test_the_last_try_failing_fails_the_task() -> None:
    """When retries are used up the task is failed, with no retry time."""
    task = TaskSpec("t", retries=2)
    transition = after_try(task, 3, TryOutcome.FAILED, NOW)
    assert (transition.state, transition.next_retry_at) == (State.FAILED, None)


def test_an_override_replaces_the_tasks_delay() -> None:
    """DAG.test(retry_delay=0) makes retries immediate whatever the task says."""
    task = TaskSpec("t", retries=1, retry_delay=dt.timedelta(hours=1))
    transition = after_try(task, 1, TryOutcome.FAILED, NOW, retry_delay=dt.timedelta(0))
    assert transition.next_retry_at == NOW


def test_a_retry_policys_delay_is_the_wait_itself() -> None:
    """As in Airflow: no backoff and no max_retry_delay on it; DAG.test()'s override still
    wins, and it never adds a try past the task's retries."""
    task = TaskSpec(
        "t", retries=3, retry_delay=MIN, retry_exponential_backoff=True, max_retry_delay=2 * MIN
    )
    hour = dt.timedelta(hours=1)
    assert after_try(task, 3, TryOutcome.FAILED, NOW, policy_delay=hour).next_retry_at == (
        NOW + hour
    )
    zero = dt.timedelta(0)
    overridden = after_try(task, 1, TryOutcome.FAILED, NOW, zero, policy_delay=hour)
    assert overridden.next_retry_at == NOW
    assert after_try(task, 4, TryOutcome.FAILED, NOW, policy_delay=hour).state is State.FAILED


@pytest.mark.parametrize(("try_number", "minutes"), [(1, 1), (2, 2), (3, 4), (4, 8)])
def test_exponential_backoff_doubles_the_delay_each_try(try_number: int, minutes: int) -> None:
    """With retry_exponential_backoff the delay is retry_delay * 2**(try_number - 1)."""
    task = TaskSpec("t", retries=10, retry_delay=MIN, retry_exponential_backoff=True)
    assert retry_delay_for(task, try_number) == minutes * MIN


def test_max_retry_delay_caps_the_backoff() -> None:
    """The delay never exceeds max_retry_delay."""
    task = TaskSpec(
        "t", retries=10, retry_delay=MIN, retry_exponential_backoff=True, max_retry_delay=5 * MIN
    )
    assert [retry_delay_for(task, n) for n in (1, 2, 3, 4, 5)] == [
        MIN,
        2 * MIN,
        4 * MIN,
        5 * MIN,
        5 * MIN,
    ]


def test_max_retry_delay_caps_a_plain_delay_too() -> None:
    """max_retry_delay also caps a delay without backoff."""
    task = TaskSpec("t", retry_delay=10 * MIN, max_retry_delay=MIN)
    assert retry_delay_for(task, 1) == MIN


def test_a_very_late_try_still_honours_max_retry_delay() -> None:
    """After hundreds of tries the doubled delay is capped, never overflowing."""
    task = TaskSpec(
        "t",
        retries=1000,
        retry_delay=dt.timedelta(seconds=10),
        retry_exponential_backoff=True,
        max_retry_delay=dt.timedelta(hours=1),
    )
    transition = after_try(task, 500, TryOutcome.FAILED, NOW)
    assert transition.next_retry_at == NOW + dt.timedelta(hours=1)


def test_an_unbounded_backoff_saturates_instead_of_raising() -> None:
    """Without max_retry_delay a huge backoff ends at the latest representable time."""
    task = TaskSpec("t", retries=1000, retry_delay=MIN, retry_exponential_backoff=True)
    transition = after_try(task, 999, TryOutcome.FAILED, NOW)
    assert transition.state is State.UP_FOR_RETRY
    assert transition.next_retry_at == dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def test_the_run_is_undecided_while_any_task_is_unfinished() -> None:
    """run_outcome is None while a task is pending or up for retry."""
    assert run_outcome(["b"], {"a": State.UP_FOR_RETRY, "b": State.NONE}) is None


def test_leaves_decide_the_runs_state() -> None:
    """A failed leaf fails the run; a failure absorbed upstream of a successful leaf does not."""
    assert run_outcome(["b"], {"a": State.FAILED, "b": State.SUCCESS}) is RunState.SUCCESS
    assert run_outcome(["b"], {"a": State.FAILED, "b": State.UPSTREAM_FAILED}) is RunState.FAILED
    assert run_outcome(["b"], {"a": State.SUCCESS, "b": State.SKIPPED}) is RunState.SUCCESS
