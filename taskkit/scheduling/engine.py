"""One run's bookkeeping with no I/O, driven by both the scheduler and DAG.test().

The engine owns a run's task instance states, the tasks to re-evaluate,
retry timers, the run's XComs and skip propagation (branches, short
circuits, trigger rules). Every change it makes comes back as a
`Transition`, checked against `states.ALLOWED_TRANSITIONS`; its drivers only
carry them out: the scheduler commits them to the metastore and hands tries
to an executor, DAG.test() runs tries in process. One code path, two
drivers, so the two can never disagree (huey's immediate mode is the model).

XCom values are opaque here: DAG.test() keeps Python objects, the scheduler
encoded bytes that it never decodes.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from taskkit.errors import IllegalTransitionError
from taskkit.model.dag import DagSpec
from taskkit.model.results import SkipScope, TryOutcome, TryResult
from taskkit.scheduling.readiness import Readiness, past_allows, task_readiness
from taskkit.scheduling.transitions import after_try, run_outcome
from taskkit.states import ALLOWED_TRANSITIONS, FINISHED_STATES, OCCUPYING_STATES, RunState, State

_DECIDED = {Readiness.SKIP: State.SKIPPED, Readiness.UPSTREAM_FAILED: State.UPSTREAM_FAILED}

#: XComs of a run: task_id -> key -> value (opaque to the engine).
XComMap = dict[str, dict[str, Any]]
_NO_XCOMS: Mapping[str, Any] = MappingProxyType({})


@attrs.define
class TaskInstance:
    """One task instance as the engine tracks it."""

    state: State
    try_number: int = 0
    max_tries: int = 1
    next_retry_at: dt.datetime | None = None


@attrs.frozen
class Transition:
    """One state change of one task instance, as the engine decided it.

    Creating one with a target its source may not move to raises
    IllegalTransitionError: the rules in states.py are enforced, not documented.
    """

    task_id: str
    source: State
    target: State
    try_number: int
    next_retry_at: dt.datetime | None = None
    error: str | None = None
    #: The values the try pushed, recorded with a finished try (empty otherwise).
    xcoms: Mapping[str, Any] = attrs.field(default=_NO_XCOMS, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.target not in ALLOWED_TRANSITIONS[self.source]:
            raise IllegalTransitionError(self.task_id, self.source, self.target)


class RunEngine:
    """The state machine of one DAG run; see the module docstring."""

    def __init__(
        self,
        spec: DagSpec,
        instances: Mapping[str, TaskInstance] | None = None,
        xcoms: XComMap | None = None,
        past: Mapping[str, State] | None = None,
    ) -> None:
        self.spec = spec
        #: The previous run's task states, for depends_on_past (None: no previous run).
        self.past: dict[str, State] | None = None if past is None else dict(past)
        self.tis: dict[str, TaskInstance] = (
            dict(instances)
            if instances is not None
            else {tid: TaskInstance(State.NONE, 0, t.max_tries) for tid, t in spec.tasks.items()}
        )
        self.xcoms: XComMap = xcoms if xcoms is not None else {}
        #: NONE tasks whose upstream tasks changed since they were last evaluated.
        self.dirty: set[str] = {t for t, ti in self.tis.items() if ti.state is State.NONE}
        self._retries: list[tuple[dt.datetime, str]] = [
            (ti.next_retry_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc), t)
            for t, ti in self.tis.items()
            if ti.state is State.UP_FOR_RETRY
        ]
        heapq.heapify(self._retries)
        #: Tasks not finished yet; a count, so "is the run over?" costs nothing per loop.
        self.unfinished = sum(ti.state not in FINISHED_STATES for ti in self.tis.values())
        self._states = _StateView(self.tis)
        #: Set once dagrun_timeout passed: the run has failed whatever its tasks did.
        self.timed_out = False

    # -- reading -------------------------------------------------------------------

    def states(self) -> dict[str, State]:
        return {task_id: ti.state for task_id, ti in self.tis.items()}

    def in_state(self, *states: State) -> Iterator[str]:
        """Task ids whose instance is in one of `states`, in topological order."""
        return (t for t, ti in self.tis.items() if ti.state in states)

    def next_retry_at(self) -> dt.datetime | None:
        """When the earliest up_for_retry task may be scheduled again."""
        return self._retries[0][0] if self._retries else None

    def outcome(self) -> RunState | None:
        """The run's final state once every task has finished, else None."""
        if self.unfinished or self.dirty:
            return None
        if self.timed_out:
            return RunState.FAILED
        return run_outcome(self.spec.outcome_leaves, self._states)

    def xcoms_for(self, task_id: str) -> dict[tuple[str, str], Any]:
        """The values a try of `task_id` can pull: its own and those of its ancestors.

        Walks upstream only while values remain unfound, so a run whose
        tasks push nothing pays nothing.
        """
        if not self.xcoms:
            return {}
        found: dict[tuple[str, str], Any] = {}
        remaining = len(self.xcoms)
        seen = {task_id}
        pending = [task_id]
        while pending and remaining:
            current = pending.pop()
            values = self.xcoms.get(current)
            if values:
                remaining -= 1
                found.update(((current, key), value) for key, value in values.items())
            for upstream in self.spec.tasks[current].upstream:
                if upstream not in seen:
                    seen.add(upstream)
                    pending.append(upstream)
        return found

    # -- deciding --------------------------------------------------------------------

    def decide(self) -> list[Transition]:
        """Settle dirty NONE tasks whose trigger rule is decided.

        Skips and upstream failures cascade to their own downstream tasks in
        the same call, so a failure settles a whole branch at once.
        """
        changes: list[Transition] = []
        while self.dirty:
            task_id = self.dirty.pop()
            if self.tis[task_id].state is not State.NONE:
                continue
            task = self.spec.tasks[task_id]
            readiness = task_readiness(task, self._states)
            if readiness is Readiness.WAIT:
                continue
            if readiness is Readiness.READY and not past_allows(task, self.past):
                continue  # set_past marks it dirty again when the previous run moves on
            target = State.SCHEDULED if readiness is Readiness.READY else _DECIDED[readiness]
            # A skip or upstream failure marks the task's own downstream tasks dirty: the loop
            # follows the cascade.
            changes.append(self._move(task_id, target))
        return changes

    def set_past(self, task_id: str, state: State) -> None:
        """The previous run's `task_id` moved to `state`: re-evaluate who waits on it."""
        if self.past is None:
            self.past = {}
        self.past[task_id] = state
        task = self.spec.tasks.get(task_id)
        if task is None:
            return
        waiting = [task] + [
            self.spec.tasks[u] for u in task.upstream if self.spec.tasks[u].wait_for_downstream
        ]
        self.dirty.update(
            t.task_id
            for t in waiting
            if t.depends_on_past and self.tis[t.task_id].state is State.NONE
        )

    def release_retries(self, now: dt.datetime) -> list[Transition]:
        """Schedule again every up_for_retry task whose retry time has come."""
        changes = []
        while self._retries and self._retries[0][0] <= now:
            _, task_id = heapq.heappop(self._retries)
            if self.tis[task_id].state is State.UP_FOR_RETRY:
                self.tis[task_id].next_retry_at = None
                changes.append(self._move(task_id, State.SCHEDULED))
        return changes

    def queue(self, task_id: str) -> Transition:
        """Hand a scheduled task to an executor: its next try begins.

        As in Airflow, what an earlier try pushed is gone once a new try starts.
        """
        ti = self.tis[task_id]
        ti.try_number += 1
        self.xcoms.pop(task_id, None)
        return self._move(task_id, State.QUEUED)

    def start(self, task_id: str, try_number: int) -> Transition | None:
        """A worker reported the try running; None if the report is stale."""
        ti = self.tis[task_id]
        if ti.state is not State.QUEUED or ti.try_number != try_number:
            return None
        return self._move(task_id, State.RUNNING)

    def reject(self, task_id: str, reason: str) -> Transition:
        """A scheduled task that can never run (no such pool, too big for it) fails."""
        self.tis[task_id].try_number += 1
        return self._move(task_id, State.FAILED, error=reason)

    def finish(
        self,
        task_id: str,
        try_number: int,
        result: TryResult,
        now: dt.datetime,
        retry_delay: dt.timedelta | None = None,
    ) -> list[Transition]:
        """Record how a try ended; empty if the report is stale (a reset or older try).

        The first transition is the task's own (carrying what it pushed); the
        rest are the tasks its branch or short circuit skipped.
        """
        ti = self.tis[task_id]
        if ti.state not in OCCUPYING_STATES or ti.try_number != try_number:
            return []
        spec = self.spec.tasks[task_id]
        outcome = result.outcome
        if outcome is TryOutcome.FAILED and not result.retryable:
            decided = after_try(spec, spec.max_tries, outcome, now)
        else:
            decided = after_try(spec, try_number, outcome, now, retry_delay)
        if result.xcoms:
            self.xcoms[task_id] = dict(result.xcoms)
        own = self._move(
            task_id,
            decided.state,
            next_retry_at=decided.next_retry_at,
            error=result.error,
            xcoms=result.xcoms,
        )
        if decided.next_retry_at is not None:
            ti.next_retry_at = decided.next_retry_at
            heapq.heappush(self._retries, (decided.next_retry_at, task_id))
        changes = [own]
        if decided.state is State.SUCCESS:
            changes += self._skip(self._skipped_by(task_id, result))
        return changes

    def time_out(self) -> list[Transition]:
        """dagrun_timeout passed: every unfinished task is skipped and the run fails (Airflow).

        Queued and running ones are among them: their drivers stop those tries.
        """
        self.timed_out = True
        changes = [
            self._move(task_id, State.SKIPPED, error="the run's dagrun_timeout passed")
            for task_id, ti in self.tis.items()
            if ti.state not in FINISHED_STATES
        ]
        self.dirty.clear()  # everything is decided: nothing is left to re-evaluate
        return changes

    def _skipped_by(self, task_id: str, result: TryResult) -> Iterable[str]:
        """The tasks a successful try's branch choice or short circuit skips directly."""
        spec = self.spec.tasks[task_id]
        if result.follow is not None:
            # A direct downstream task also reachable from a chosen one (the "join" of
            # an empty branch) is not skipped: it runs after the chosen path.
            keep = set(result.follow)
            for chosen in result.follow:
                keep |= self.spec.descendants(chosen)
            return sorted(spec.downstream - keep)
        if result.skip_downstream is None:
            return ()
        if result.skip_downstream is SkipScope.ALL:
            targets: Iterable[str] = self.spec.descendants(task_id)
        else:
            targets = spec.downstream
        # A short circuit never skips cleaning up: teardowns follow their trigger rule.
        return sorted(t for t in targets if not self.spec.tasks[t].is_teardown)

    def _skip(self, task_ids: Iterable[str]) -> list[Transition]:
        """Skip tasks directly (trigger rules then decide their downstream tasks)."""
        return [
            self._move(task_id, State.SKIPPED)
            for task_id in task_ids
            if self.tis[task_id].state is State.NONE
        ]

    def _move(self, task_id: str, target: State, **fields: Any) -> Transition:
        """Change one task instance's state: the only place the engine does."""
        ti = self.tis[task_id]
        change = Transition(task_id, ti.state, target, ti.try_number, **fields)
        if target in FINISHED_STATES and ti.state not in FINISHED_STATES:
            self.unfinished -= 1
            self.dirty.update(self.spec.tasks[task_id].downstream)
        elif target not in FINISHED_STATES and ti.state in FINISHED_STATES:
            self.unfinished += 1
        ti.state = target
        return change


class _StateView(Mapping[str, State]):
    """A read-only State mapping over TaskInstance objects, without copying them."""

    def __init__(self, tis: dict[str, TaskInstance]) -> None:
        self._tis = tis

    def __getitem__(self, key: str) -> State:
        return self._tis[key].state

    def get(self, key: str, default: Any = None) -> Any:
        ti = self._tis.get(key)
        return default if ti is None else ti.state

    def __iter__(self) -> Iterator[str]:
        return iter(self._tis)

    def __len__(self) -> int:
        return len(self._tis)
