"""Trigger rules: when a task is ready, must wait, is skipped or is upstream_failed."""

from __future__ import annotations

import pytest

from taskkit.model.task import TaskSpec
from taskkit.scheduling.readiness import (
    Readiness,
    UpstreamCounts,
    evaluate_trigger_rule,
    task_readiness,
)
from taskkit.states import State, TriggerRule

R, W, S, U = Readiness.READY, Readiness.WAIT, Readiness.SKIP, Readiness.UPSTREAM_FAILED
TR = TriggerRule

#: (rule, upstream counts as (success, skipped, failed, still running), expected)
CASES = [
    (TR.ALL_SUCCESS, (2, 0, 0, 0), R),
    (TR.ALL_SUCCESS, (1, 0, 0, 1), W),
    (TR.ALL_SUCCESS, (1, 1, 0, 1), S),
    (TR.ALL_SUCCESS, (0, 1, 1, 0), U),
    (TR.ALL_FAILED, (0, 0, 2, 0), R),
    (TR.ALL_FAILED, (0, 0, 1, 1), W),
    (TR.ALL_FAILED, (1, 0, 1, 0), S),
    (TR.ALL_FAILED, (0, 1, 0, 1), S),
    (TR.ALL_DONE, (1, 1, 1, 0), R),
    (TR.ALL_DONE, (1, 1, 1, 1), W),
    (TR.ONE_SUCCESS, (1, 0, 0, 2), R),
    (TR.ONE_SUCCESS, (0, 0, 1, 1), W),
    (TR.ONE_SUCCESS, (0, 2, 0, 0), S),
    (TR.ONE_SUCCESS, (0, 1, 1, 0), U),
    (TR.ONE_FAILED, (0, 0, 1, 2), R),
    (TR.ONE_FAILED, (1, 0, 0, 1), W),
    (TR.ONE_FAILED, (1, 1, 0, 0), S),
    (TR.NONE_FAILED, (1, 1, 0, 0), R),
    (TR.NONE_FAILED, (1, 0, 0, 1), W),
    (TR.NONE_FAILED, (1, 0, 1, 1), U),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (1, 1, 0, 0), R),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (1, 0, 0, 1), W),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (0, 2, 0, 0), S),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (1, 0, 1, 0), U),
    (TR.ALWAYS, (0, 0, 0, 3), R),
    (TR.ALWAYS, (0, 0, 3, 0), R),
    # The rules Airflow 3 added.
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (1, 0, 1, 0), R),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (1, 0, 0, 1), W),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (1, 1, 0, 0), S),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (0, 0, 2, 0), U),
    (TR.ALL_DONE_SETUP_SUCCESS, (1, 0, 1, 0), R),  # no setups upstream: like all_done
    (TR.ALL_DONE_SETUP_SUCCESS, (1, 0, 0, 1), W),
    (TR.ONE_DONE, (0, 0, 1, 2), R),
    (TR.ONE_DONE, (1, 0, 0, 2), R),
    (TR.ONE_DONE, (0, 1, 0, 1), W),
    (TR.ONE_DONE, (0, 2, 0, 0), S),
    (TR.NONE_SKIPPED, (1, 0, 1, 0), R),
    (TR.NONE_SKIPPED, (1, 0, 0, 1), W),
    (TR.NONE_SKIPPED, (0, 1, 0, 1), S),
    (TR.ALL_SKIPPED, (0, 2, 0, 0), R),
    (TR.ALL_SKIPPED, (0, 1, 0, 1), W),
    (TR.ALL_SKIPPED, (1, 1, 0, 0), S),
    (TR.ALL_SKIPPED, (0, 1, 1, 0), S),
]


@pytest.mark.parametrize(("rule", "counts", "expected"), CASES)
def test_trigger_rules_follow_airflow(
    rule: TriggerRule, counts: tuple[int, int, int, int], expected: Readiness
) -> None:
    """Each rule decides as Airflow does, as early as the outcome is certain."""
    success, skipped, failed, running = counts
    up = UpstreamCounts(success + skipped + failed + running, success, skipped, failed)
    assert evaluate_trigger_rule(rule, up) is expected


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_a_task_without_upstream_is_always_ready(rule: TriggerRule) -> None:
    """Root tasks are ready whatever their trigger rule."""
    assert evaluate_trigger_rule(rule, UpstreamCounts(0)) is R


def test_upstream_failed_counts_as_a_failure_and_retries_as_unfinished() -> None:
    """upstream_failed upstreams count as failed; up_for_retry ones are still pending."""
    task = TaskSpec("t", upstream=frozenset({"a", "b", "c"}))
    states = {"a": State.UPSTREAM_FAILED, "b": State.UP_FOR_RETRY, "c": State.SUCCESS}
    counts = UpstreamCounts.of(task.upstream, states)
    assert counts == UpstreamCounts(3, success=1, upstream_failed=1)
    assert counts.failures == 1
    assert task_readiness(task, states) is U


def test_all_done_setup_success_needs_one_upstream_setup_to_have_succeeded() -> None:
    """A teardown runs when all is done and a setup succeeded; skips when every setup skipped."""
    task = TaskSpec(
        "teardown",
        upstream=frozenset({"setup", "work"}),
        upstream_setups=frozenset({"setup"}),
        trigger_rule=TR.ALL_DONE_SETUP_SUCCESS,
    )
    assert task_readiness(task, {"setup": State.SUCCESS, "work": State.FAILED}) is R
    assert task_readiness(task, {"setup": State.SUCCESS, "work": State.RUNNING}) is W
    assert task_readiness(task, {"setup": State.FAILED, "work": State.UPSTREAM_FAILED}) is U
    assert task_readiness(task, {"setup": State.SKIPPED, "work": State.SKIPPED}) is S


def test_one_done_does_not_count_upstream_failed_as_done() -> None:
    """one_done waits for a try that ran: upstream_failed alone leaves it skipped."""
    task = TaskSpec("t", upstream=frozenset({"a"}), trigger_rule=TR.ONE_DONE)
    assert task_readiness(task, {"a": State.UPSTREAM_FAILED}) is S


def test_missing_states_count_as_not_started() -> None:
    """Upstream tasks absent from the state map are treated as state none."""
    task = TaskSpec("t", upstream=frozenset({"a"}), trigger_rule=TR.ALL_DONE)
    assert task_readiness(task, {}) is W
