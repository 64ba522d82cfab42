"""PURE: given its upstream tasks' states, may a task run, must it wait, or is it decided?"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping

import attrs

from taskkit.model.task import TaskSpec
from taskkit.states import State, TriggerRule


class Readiness(enum.Enum):
    """The outcome of evaluating a task's trigger rule."""

    READY = "ready"  #: the rule is met: the task may be scheduled
    WAIT = "wait"  #: not enough upstream tasks have finished to decide
    SKIP = "skip"  #: the rule can no longer be met because of skips
    UPSTREAM_FAILED = "upstream_failed"  #: the rule can no longer be met because of failures


@attrs.frozen
class UpstreamCounts:
    """How many direct upstream tasks are in each finished state (setups counted apart too)."""

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0  #: failed
    upstream_failed: int = 0
    setups: int = 0  #: upstream tasks that are setup tasks, whatever their state
    setup_success: int = 0
    setup_skipped: int = 0

    @property
    def failures(self) -> int:
        """Failed or upstream_failed: what most rules count as a failure."""
        return self.failed + self.upstream_failed

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failures

    @classmethod
    def of(
        cls,
        upstream: Iterable[str],
        states: Mapping[str, State],
        setups: frozenset[str] = frozenset(),
    ) -> UpstreamCounts:
        counts = dict.fromkeys(_COUNTED, 0)
        total = setup_total = setup_success = setup_skipped = 0
        for task_id in upstream:
            total += 1
            state = states.get(task_id, State.NONE)
            if state in counts:
                counts[state] += 1
            if task_id in setups:
                setup_total += 1
                setup_success += state is State.SUCCESS
                setup_skipped += state is State.SKIPPED
        return cls(
            total=total,
            success=counts[State.SUCCESS],
            skipped=counts[State.SKIPPED],
            failed=counts[State.FAILED],
            upstream_failed=counts[State.UPSTREAM_FAILED],
            setups=setup_total,
            setup_success=setup_success,
            setup_skipped=setup_skipped,
        )


_COUNTED = (State.SUCCESS, State.SKIPPED, State.FAILED, State.UPSTREAM_FAILED)


def _all_success(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.failures:
        return Readiness.UPSTREAM_FAILED
    if up.skipped:
        return Readiness.SKIP
    return Readiness.READY if up.success == up.total else Readiness.WAIT


def _all_failed(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.success or up.skipped:
        return Readiness.SKIP
    return Readiness.READY if all_done else Readiness.WAIT


def _all_done(up: UpstreamCounts, all_done: bool) -> Readiness:
    return Readiness.READY if all_done else Readiness.WAIT


def _all_done_min_one_success(up: UpstreamCounts, all_done: bool) -> Readiness:
    # Skipped upstream tasks do not count as done for this rule: one skip skips it.
    if up.skipped:
        return Readiness.SKIP
    if not all_done:
        return Readiness.WAIT
    return Readiness.READY if up.success else Readiness.UPSTREAM_FAILED


def _all_done_setup_success(up: UpstreamCounts, all_done: bool) -> Readiness:
    if not all_done:
        return Readiness.WAIT
    if up.setups and up.setup_skipped >= up.setups:
        return Readiness.SKIP
    if up.setups and not up.setup_success:
        return Readiness.UPSTREAM_FAILED
    return Readiness.READY


def _one_success(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.success:
        return Readiness.READY
    if not all_done:
        return Readiness.WAIT
    return Readiness.SKIP if up.skipped == up.total else Readiness.UPSTREAM_FAILED


def _one_failed(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.failures:
        return Readiness.READY
    return Readiness.SKIP if all_done else Readiness.WAIT


def _one_done(up: UpstreamCounts, all_done: bool) -> Readiness:
    # Only tries that ran count: upstream_failed and skipped tasks are not "done" here.
    if up.success or up.failed:
        return Readiness.READY
    return Readiness.SKIP if all_done else Readiness.WAIT


def _none_failed(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.failures:
        return Readiness.UPSTREAM_FAILED
    return Readiness.READY if all_done else Readiness.WAIT


def _none_skipped(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.skipped:
        return Readiness.SKIP
    return Readiness.READY if all_done else Readiness.WAIT


def _none_failed_min_one_success(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.failures:
        return Readiness.UPSTREAM_FAILED
    if not all_done:
        return Readiness.WAIT
    return Readiness.READY if up.success else Readiness.SKIP


def _all_skipped(up: UpstreamCounts, all_done: bool) -> Readiness:
    if up.success or up.failures:
        return Readiness.SKIP
    return Readiness.READY if all_done else Readiness.WAIT


def _always(up: UpstreamCounts, all_done: bool) -> Readiness:
    return Readiness.READY


_RULES: dict[TriggerRule, Callable[[UpstreamCounts, bool], Readiness]] = {
    TriggerRule.ALL_SUCCESS: _all_success,
    TriggerRule.ALL_FAILED: _all_failed,
    TriggerRule.ALL_DONE: _all_done,
    TriggerRule.ALL_DONE_MIN_ONE_SUCCESS: _all_done_min_one_success,
    TriggerRule.ALL_DONE_SETUP_SUCCESS: _all_done_setup_success,
    TriggerRule.ONE_SUCCESS: _one_success,
    TriggerRule.ONE_FAILED: _one_failed,
    TriggerRule.ONE_DONE: _one_done,
    TriggerRule.NONE_FAILED: _none_failed,
    TriggerRule.NONE_SKIPPED: _none_skipped,
    TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS: _none_failed_min_one_success,
    TriggerRule.ALL_SKIPPED: _all_skipped,
    TriggerRule.ALWAYS: _always,
}


def evaluate_trigger_rule(rule: TriggerRule, up: UpstreamCounts) -> Readiness:
    """Airflow's trigger-rule semantics, deciding as early as the outcome is certain.

    A task without upstream tasks is always ready, whatever its rule.
    """
    if up.total == 0:
        return Readiness.READY
    return _RULES[rule](up, up.done == up.total)


def task_readiness(task: TaskSpec, states: Mapping[str, State]) -> Readiness:
    """Evaluate `task`'s trigger rule against the current states of its run."""
    counts = UpstreamCounts.of(task.upstream, states, task.upstream_setups)
    return evaluate_trigger_rule(task.trigger_rule, counts)


#: Previous-run states that let a depends_on_past task run.
_PAST_OK = frozenset({State.SUCCESS, State.SKIPPED})


def past_allows(task: TaskSpec, past: Mapping[str, State] | None) -> bool:
    """depends_on_past / wait_for_downstream: did the previous run leave this task free to run?

    `past` maps task ids to their states in the previous run (by logical
    date); None means there is no previous run, so nothing to wait for, as
    Airflow's first run. A task the previous run did not have waits for nothing.
    """
    if past is None or not task.depends_on_past:
        return True
    if past.get(task.task_id, State.SUCCESS) not in _PAST_OK:
        return False
    return not task.wait_for_downstream or all(
        past.get(d, State.SUCCESS) in _PAST_OK for d in task.downstream
    )
