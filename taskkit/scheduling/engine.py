"""One run's bookkeeping with no I/O, driven by both the scheduler and DAG.test().

The engine owns a run's task instance states, the tasks to re-evaluate,
retry and reschedule timers, the run's XComs, skip propagation (branches, short
circuits, trigger rules) and the expansion of mapped tasks. Every change it makes comes back as a
`Transition`, checked against `states.ALLOWED_TRANSITIONS`; its drivers only
carry them out: the scheduler commits them to the metastore and hands tries
to an executor, DAG.test() runs tries in process. One code path, two
drivers, so the two can never disagree (huey's immediate mode is the model).

XCom values are opaque here (encoded by the try, never decoded by the
engine); only the `length` recorded with a value is read, to expand a
mapped task over it.

Task instances are keyed by (task_id, map_index). A mapped task has one
instance with map_index -1 until it is ready; then it is expanded: that
instance is replaced by instances 0..n-1 (the drivers learn it from
`take_expansions()`), or it is skipped (nothing to expand over) or failed
(not a list or dict, or more than `max_map_length` instances). Trigger rules
count a mapped upstream task per instance, as Airflow does: each finished
instance re-evaluates the tasks downstream. Tasks of one mapped task group
are expanded to the group's length and depend on each other per map index:
instance i of a task waits for instance i of its upstream tasks in the group
only, and pulls their values. When a mapped task is evaluated again after a
clear, it is expanded again to its new length: instances are added, and
surplus ones are `removed`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from taskkit.model.dag import DagSpec
from taskkit.model.results import DEFERRAL_TIMEOUT, FAIL_METHOD, TryOutcome, TryResult
from taskkit.model.task import MapLength, TaskSpec
from taskkit.scheduling.instances import (
    Expanded,
    TaskInstance,
    TIKey,
    Transition,
    XComMap,
    mapped_state,
)
from taskkit.scheduling.mapping import map_count, sources_finished, too_many, upstream_counts
from taskkit.scheduling.readiness import Readiness, evaluate_trigger_rule, past_allows
from taskkit.scheduling.run_xcoms import pullable, task_values
from taskkit.scheduling.transitions import TryTransition, after_try, run_outcome, skipped_by
from taskkit.states import FINISHED_STATES, OCCUPYING_STATES, RunState, State

__all__ = [
    "DEFAULT_MAX_MAP_LENGTH",
    "RunEngine",
    "TIKey",
    "TaskInstance",
    "Transition",
    "XComMap",
    "mapped_state",
]

_DECIDED = {Readiness.SKIP: State.SKIPPED, Readiness.UPSTREAM_FAILED: State.UPSTREAM_FAILED}
#: States released to scheduled by a timer: a retry's delay, a sensor's next poke, or (for a
#: deferred instance) its deferral's timeout.
_WAITING = frozenset({State.UP_FOR_RETRY, State.UP_FOR_RESCHEDULE, State.DEFERRED})


#: The default of core.max_map_length.
DEFAULT_MAX_MAP_LENGTH = 1024


class RunEngine:
    """The state machine of one DAG run; see the module docstring."""

    def __init__(
        self,
        spec: DagSpec,
        instances: Mapping[TIKey, TaskInstance] | None = None,
        xcoms: XComMap | None = None,
        past: Mapping[str, State] | None = None,
        *,
        max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
    ) -> None:
        self.spec = spec
        self.max_map_length = max_map_length
        #: The previous run's task states, for depends_on_past (None: no previous run).
        self.past: dict[str, State] | None = None if past is None else dict(past)
        self.tis: dict[TIKey, TaskInstance] = (
            dict(instances)
            if instances is not None
            else {
                (tid, -1): TaskInstance(State.NONE, 0, t.max_tries) for tid, t in spec.tasks.items()
            }
        )
        self.xcoms: XComMap = xcoms if xcoms is not None else {}
        #: Expanded mapped tasks: task_id -> their size and progress.
        self.expanded: dict[str, Expanded] = {}
        for (task_id, map_index), ti in self.tis.items():
            if map_index >= 0:
                progress = self.expanded.setdefault(task_id, Expanded(0, 0))
                progress.count = max(progress.count, map_index + 1)
                progress.unfinished += ti.state not in FINISHED_STATES
                progress.count_move(None, ti.state)
                if ti.state is State.NONE:
                    progress.waiting.add(map_index)
        for task_id, progress in self.expanded.items():
            if not progress.unfinished:
                progress.state = mapped_state(self._instance_states(task_id))
        #: For each task of a mapped task group: its upstream tasks in the same group.
        self.paired: dict[str, frozenset[str]] = {
            t.task_id: frozenset(
                u for u in t.upstream if spec.tasks[u].mapped_group == t.mapped_group
            )
            for t in spec.tasks.values()
            if t.mapped_group is not None
        }
        #: Mapped tasks expanded since the drivers last asked: (task_id, instance count).
        self._expansions: list[tuple[str, int]] = []
        #: Expanded tasks given more instances since the drivers last asked: (task_id, indexes).
        self._additions: list[tuple[str, range]] = []
        #: Tasks with a NONE instance whose upstream tasks changed since last evaluated.
        self.dirty: set[str] = {t for (t, _), ti in self.tis.items() if ti.state is State.NONE}
        #: For a dirty expanded task: only these instances need evaluating (absent: all).
        self._dirty_at: dict[str, set[int]] = {}
        self._retries: list[tuple[dt.datetime, str, int]] = [
            (ti.next_retry_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc), t, i)
            for (t, i), ti in self.tis.items()
            if ti.state in _WAITING
        ]
        heapq.heapify(self._retries)
        #: Instances not finished yet; a count, so "is the run over?" costs nothing per loop.
        self.unfinished = sum(ti.state not in FINISHED_STATES for ti in self.tis.values())
        #: How many instances of each task hold XComs, so xcoms_for stops early.
        self._pushers: dict[str, int] = {}
        for task_id, _ in self.xcoms:
            self._pushers[task_id] = self._pushers.get(task_id, 0) + 1
        self._states = _StateView(self)
        #: Set once dagrun_timeout passed: the run has failed whatever its tasks did.
        self.timed_out = False

    # -- reading -------------------------------------------------------------------

    def ti(self, task_id: str, map_index: int = -1) -> TaskInstance:
        """One task instance."""
        return self.tis[task_id, map_index]

    def state_of(self, task_id: str) -> State:
        """A task's state as trigger rules see it: a mapped task's overall state."""
        ti = self.tis.get((task_id, -1))
        if ti is not None:
            return ti.state
        return self.expanded[task_id].state

    def states(self) -> dict[str, State]:
        """Each task's state (a mapped task's overall state), in topological order."""
        return {task_id: self.state_of(task_id) for task_id in self.spec.tasks}

    def map_indexes(self, task_id: str) -> range:
        """The map indexes of a task's instances: range(-1, 0) unless it was expanded."""
        progress = self.expanded.get(task_id)
        return range(progress.count) if progress is not None else range(-1, 0)

    def in_state(self, *states: State) -> Iterator[TIKey]:
        """Instances in one of `states`."""
        return (key for key, ti in self.tis.items() if ti.state in states)

    def take_expansions(self) -> list[tuple[str, int]]:
        """The mapped tasks expanded since the last call, with their instance counts.

        The instance with map_index -1 of each is gone from `tis`; instances
        0..n-1 replace it (the scheduler writes the same change to the metastore).
        """
        taken, self._expansions = self._expansions, []
        return taken

    def take_additions(self) -> list[tuple[str, range]]:
        """Expanded tasks given more instances (expanded again, longer) since the last call.

        The new instances are in state none in `tis`; the drivers add their rows.
        """
        taken, self._additions = self._additions, []
        return taken

    def next_retry_at(self) -> dt.datetime | None:
        """When the earliest up_for_retry (or up_for_reschedule, or deferred) instance is
        released; timers of instances released otherwise (a trigger fired) are dropped."""
        while self._retries:
            at, task_id, map_index = self._retries[0]
            ti = self.tis.get((task_id, map_index))
            if ti is not None and _timer_holds(ti, at):
                return at
            heapq.heappop(self._retries)
        return None

    def outcome(self) -> RunState | None:
        """The run's final state once every task has finished, else None."""
        if self.unfinished or self.dirty:
            return None
        if self.timed_out:
            return RunState.FAILED
        return run_outcome(self.spec.outcome_leaves, self._states)

    def xcoms_for(self, task_id: str, map_index: int = -1) -> dict[tuple[str, str], Any]:
        """The values a try of an instance can pull: its own and those of its ancestors.

        A mapped ancestor's values under one key come as one
        EncodedXComSequence, in map-index order (the reduce step); an ancestor
        in the instance's own mapped task group gives the values of the same
        map index. Walks upstream only while values remain unfound, so a run
        whose tasks push nothing pays nothing. Other tasks' values are looked up
        when pulled (`xcom_values`, or the metastore in a worker).
        """
        return pullable(
            self.spec,
            self.xcoms,
            self._pushers,
            self.expanded,
            task_id=task_id,
            map_index=map_index,
        )

    def xcom_values(self, task_id: str, map_index: int | None = None) -> dict[tuple[str, str], Any]:
        """One task's values by (task_id, key): one instance's, or a mapped task's sequences.

        `map_index` None means the task as a whole: a mapped task's values
        gathered in map-index order, an unmapped task's own.
        """
        return task_values(self.xcoms, self.expanded, task_id, map_index)

    # -- deciding --------------------------------------------------------------------

    def decide(self) -> list[Transition]:
        """Settle dirty NONE task instances whose trigger rule is decided.

        Skips and upstream failures cascade to their own downstream tasks in
        the same call, so a failure settles a whole branch at once.
        """
        changes: list[Transition] = []
        while self.dirty:
            task_id = self.dirty.pop()
            indexes = self._dirty_at.pop(task_id, None)
            task = self.spec.tasks[task_id]
            ti = self.tis.get((task_id, -1))
            if ti is None:  # expanded: its waiting instances decide one by one
                changes += self._decide_instances(task, indexes)
                continue
            if ti.state is not State.NONE:
                continue
            readiness = self._readiness(task, -1)
            if readiness is Readiness.WAIT:
                continue
            if readiness is Readiness.READY and not past_allows(task, self.past):
                continue  # set_past marks it dirty again when the previous run moves on
            if readiness is Readiness.READY and task.map_spec is not None:
                changes += self._expand(task_id, task.map_spec.lengths)
            else:
                target = State.SCHEDULED if readiness is Readiness.READY else _DECIDED[readiness]
                # A skip or upstream failure marks the task's own downstream tasks dirty: the
                # loop follows the cascade.
                changes.append(self._move(task_id, target))
        return changes

    def _decide_instances(self, task: TaskSpec, indexes: set[int] | None) -> list[Transition]:
        """Evaluate the waiting instances of an expanded task (only `indexes` when given).

        Instances wait after a clear, or in a mapped task group until their own
        upstream instances finish. Expanded again first if its length changed.
        """
        task_id = task.task_id
        progress = self.expanded[task_id]
        if not progress.waiting:
            return []
        changes = self._resize(task) if indexes is None else []
        chosen = progress.waiting if indexes is None else indexes & progress.waiting
        shared = None if self.paired.get(task_id) else self._readiness(task, -1)
        for map_index in sorted(chosen):
            readiness = shared or self._readiness(task, map_index)
            if readiness is Readiness.WAIT:
                continue
            if readiness is Readiness.READY and not past_allows(task, self.past):
                continue
            target = State.SCHEDULED if readiness is Readiness.READY else _DECIDED[readiness]
            changes.append(self._move(task_id, target, map_index=map_index))
        return changes

    def _readiness(self, task: TaskSpec, map_index: int) -> Readiness:
        """The task instance's trigger rule over its upstream task instances, as Airflow counts.

        A mapped upstream counts once per instance (removed ones aside); one of
        the same mapped task group counts only its instance `map_index`, and not
        at all for the unexpanded instance -1 (which then expands).
        """
        if not task.upstream:
            return Readiness.READY
        paired = self.paired.get(task.task_id, frozenset())
        counts = upstream_counts(task, map_index, self.tis, self.expanded, paired)
        return evaluate_trigger_rule(task.trigger_rule, counts)

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
        for t in waiting:
            if t.depends_on_past and any(
                self.tis[t.task_id, i].state is State.NONE
                for i in (self.map_indexes(t.task_id) if t.task_id in self.expanded else (-1,))
            ):
                self._touch(t.task_id)

    def _expand(self, task_id: str, lengths: tuple[MapLength, ...]) -> list[Transition]:
        """Replace a ready mapped task's -1 instance by its n instances, scheduled at once.

        In a mapped task group, instances whose upstream tasks are in the group
        wait in state none instead, each for its own upstream instances.

        Nothing to expand over skips it; a source that is not a list or dict,
        or more than max_map_length instances, fails it with the reason.
        """
        count = map_count(lengths, self.xcoms, self.expanded, self.state_of)
        if isinstance(count, str):
            return [self._move(task_id, State.FAILED, error=count)]
        if count == 0:
            return [self._move(task_id, State.SKIPPED)]
        if count > self.max_map_length:
            return [self._move(task_id, State.FAILED, error=too_many(count, self.max_map_length))]
        template = self.tis.pop((task_id, -1))
        progress = self.expanded[task_id] = Expanded(count, count, tally={State.NONE: count})
        for map_index in range(count):
            self.tis[task_id, map_index] = TaskInstance(State.NONE, 0, template.max_tries)
        self.unfinished += count - 1
        self._expansions.append((task_id, count))
        for downstream in self.spec.tasks[task_id].downstream:
            if task_id in self.paired.get(downstream, ()):
                self._touch(downstream)  # its -1 instance no longer waits for this one
        if self.paired.get(task_id):
            # Each instance waits for its own upstream instances in the group.
            progress.waiting.update(range(count))
            self._touch(task_id)
            return []
        return [self._move(task_id, State.SCHEDULED, map_index=i) for i in range(count)]

    def _resize(self, task: TaskSpec) -> list[Transition]:
        """Expand an expanded task again once what it expands over is known (after a clear).

        A longer source adds instances (state none); instances beyond a shorter
        one that are still waiting are `removed`, as Airflow revises a mapped
        task. Nothing changes while a source is unfinished or unreadable.
        """
        task_id = task.task_id
        if task.map_spec is None or not sources_finished(task.map_spec.lengths, self.state_of):
            return []
        count = map_count(task.map_spec.lengths, self.xcoms, self.expanded, self.state_of)
        if isinstance(count, str):
            return []
        progress = self.expanded[task_id]
        if count > self.max_map_length:
            error = too_many(count, self.max_map_length)
            return [
                self._move(task_id, State.FAILED, map_index=i, error=error)
                for i in sorted(progress.waiting)
            ]
        old = progress.count
        changes = [
            self._move(task_id, State.REMOVED, map_index=i)
            for i in sorted(progress.waiting)
            if i >= count
        ]
        if count > old:
            max_tries = task.max_tries
            for map_index in range(old, count):
                self.tis[task_id, map_index] = TaskInstance(State.NONE, 0, max_tries)
                progress.count_move(None, State.NONE)
                progress.waiting.add(map_index)
            progress.count = count
            progress.unfinished += count - old
            progress.state = State.RUNNING
            self.unfinished += count - old
            self._additions.append((task_id, range(old, count)))
        if count != old:  # the tasks after it in its group follow its new length
            for downstream in task.downstream:
                if task_id in self.paired.get(downstream, ()):
                    self._touch(downstream)
        return changes

    def release_retries(self, now: dt.datetime) -> list[Transition]:
        """Schedule again every up_for_retry (or up_for_reschedule) instance whose time has come."""
        changes = []
        while self._retries and self._retries[0][0] <= now:
            _, task_id, map_index = heapq.heappop(self._retries)
            ti = self.tis.get((task_id, map_index))
            if ti is None or ti.state not in _WAITING:
                continue
            if ti.state is State.DEFERRED:
                if ti.next_retry_at is None or ti.next_retry_at > now:
                    continue  # resumed and deferred again since: a stale timer
                changes.append(
                    self.resume(task_id, FAIL_METHOD, _TIMEOUT_KWARGS, map_index=map_index)
                )
                continue
            ti.next_retry_at = None
            changes.append(self._move(task_id, State.SCHEDULED, map_index=map_index))
        return changes

    def resume(
        self, task_id: str, next_method: str, next_kwargs: str, *, map_index: int = -1
    ) -> Transition:
        """A deferred instance's trigger fired (or failed, or timed out): schedule its try again.

        The same try resumes by calling `next_method` (FAIL_METHOD: it fails
        with the reason in `next_kwargs`), as in Airflow.
        """
        ti = self.tis[task_id, map_index]
        ti.next_retry_at = None
        ti.next_method, ti.next_kwargs = next_method, next_kwargs
        return self._move(
            task_id,
            State.SCHEDULED,
            map_index=map_index,
            next_method=next_method,
            next_kwargs=next_kwargs,
        )

    def queue(self, task_id: str, map_index: int = -1) -> Transition:
        """Hand a scheduled instance to an executor: its next try begins.

        As in Airflow, what an earlier try pushed is gone once a new try starts.
        A rescheduled sensor's next poke continues its try: same number.
        """
        ti = self.tis[task_id, map_index]
        if not self.continues_try(task_id, map_index):
            ti.try_number += 1
            if self.xcoms.pop((task_id, map_index), None) is not None:
                self._forget_pusher(task_id)
        return self._move(task_id, State.QUEUED, map_index=map_index)

    def continues_try(self, task_id: str, map_index: int = -1) -> bool:
        """Whether the instance's next queue is another poke of a rescheduled sensor's try."""
        ti = self.tis[task_id, map_index]
        return ti.first_poke_at is not None or ti.next_method is not None

    def start(self, task_id: str, try_number: int, map_index: int = -1) -> Transition | None:
        """A worker reported the try running; None if the report is stale."""
        ti = self.tis.get((task_id, map_index))
        if ti is None or ti.state is not State.QUEUED or ti.try_number != try_number:
            return None
        return self._move(task_id, State.RUNNING, map_index=map_index)

    def reject(self, task_id: str, reason: str, map_index: int = -1) -> Transition:
        """A scheduled instance that can never run (no such pool, too big for it) fails."""
        self.tis[task_id, map_index].try_number += 1
        return self._move(task_id, State.FAILED, error=reason, map_index=map_index)

    def finish(
        self,
        task_id: str,
        try_number: int,
        result: TryResult,
        now: dt.datetime,
        retry_delay: dt.timedelta | None = None,
        *,
        map_index: int = -1,
    ) -> list[Transition]:
        """Record how a try ended; empty if the report is stale (a reset or older try).

        The first transition is the instance's own (carrying what it pushed);
        the rest are the tasks its branch or short circuit skipped.
        """
        ti = self.tis.get((task_id, map_index))
        if ti is None or ti.state not in OCCUPYING_STATES or ti.try_number != try_number:
            return []
        spec = self.spec.tasks[task_id]
        outcome = result.outcome
        deferral = result.deferral if outcome is TryOutcome.DEFERRED else None
        if outcome is TryOutcome.RESCHEDULED:
            decided = TryTransition(State.UP_FOR_RESCHEDULE, result.reschedule_at or now)
            ti.first_poke_at = ti.first_poke_at or result.first_poke_at or now
        elif deferral is not None:
            decided = TryTransition(State.DEFERRED, deferral.timeout_at)
        elif outcome is TryOutcome.FAILED and not result.retryable:
            decided = after_try(spec, spec.max_tries, outcome, now)
        else:
            decided = after_try(
                spec, try_number, outcome, now, retry_delay, policy_delay=result.retry_delay
            )
        if decided.state is not State.UP_FOR_RESCHEDULE:
            ti.first_poke_at = None
        ti.next_method = deferral.next_method if deferral else None
        ti.next_kwargs = deferral.next_kwargs if deferral else None
        if result.xcoms:
            if (task_id, map_index) not in self.xcoms:
                self._pushers[task_id] = self._pushers.get(task_id, 0) + 1
            self.xcoms[task_id, map_index] = dict(result.xcoms)
        if result.rendered_map_index is not None:
            ti.rendered_map_index = result.rendered_map_index
        own = self._move(
            task_id,
            decided.state,
            next_retry_at=decided.next_retry_at,
            error=result.error,
            xcoms=result.xcoms,
            map_index=map_index,
            first_poke_at=ti.first_poke_at,
            rendered_map_index=result.rendered_map_index,
            deferral=deferral,
            next_method=ti.next_method,
            next_kwargs=ti.next_kwargs,
        )
        if decided.next_retry_at is not None:
            ti.next_retry_at = decided.next_retry_at
            heapq.heappush(self._retries, (decided.next_retry_at, task_id, map_index))
        changes = [own]
        if decided.state is State.SUCCESS:
            changes += self._skip(skipped_by(self.spec, task_id, result))
        return changes

    def time_out(self) -> list[Transition]:
        """dagrun_timeout passed: every unfinished task is skipped and the run fails (Airflow).

        Queued and running ones are among them: their drivers stop those tries.
        """
        self.timed_out = True
        changes = [
            self._move(
                task_id, State.SKIPPED, map_index=map_index, error="the run's dagrun_timeout passed"
            )
            for (task_id, map_index), ti in list(self.tis.items())
            if ti.state not in FINISHED_STATES
        ]
        self.dirty.clear()  # everything is decided: nothing is left to re-evaluate
        self._dirty_at.clear()
        return changes

    def _skip(self, task_ids: Iterable[str]) -> list[Transition]:
        """Skip tasks directly (trigger rules then decide their downstream tasks)."""
        changes = []
        for task_id in task_ids:
            for map_index in self.map_indexes(task_id) if task_id in self.expanded else (-1,):
                if self.tis[task_id, map_index].state is State.NONE:
                    changes.append(self._move(task_id, State.SKIPPED, map_index=map_index))
        return changes

    def _touch(self, task_id: str, map_index: int | None = None) -> None:
        """Mark a task for re-evaluation: all of it, or one instance of an expanded task."""
        if map_index is None:
            self.dirty.add(task_id)
            self._dirty_at.pop(task_id, None)
        elif task_id not in self.dirty:
            self.dirty.add(task_id)
            self._dirty_at[task_id] = {map_index}
        elif task_id in self._dirty_at:
            self._dirty_at[task_id].add(map_index)

    def _touch_downstream(self, task_id: str, map_index: int) -> None:
        """An instance finished: re-evaluate the tasks downstream (only its pair in a group)."""
        paired_with = self.spec.tasks[task_id].mapped_group if map_index >= 0 else None
        for downstream in self.spec.tasks[task_id].downstream:
            if (
                paired_with is not None
                and task_id in self.paired.get(downstream, ())
                and downstream in self.expanded
                and map_index < self.expanded[downstream].count
            ):
                self._touch(downstream, map_index)
            else:
                self._touch(downstream)

    def _forget_pusher(self, task_id: str) -> None:
        left = self._pushers[task_id] - 1
        if left:
            self._pushers[task_id] = left
        else:
            del self._pushers[task_id]

    def _instance_states(self, task_id: str) -> Iterator[State]:
        return (self.tis[task_id, i].state for i in self.map_indexes(task_id))

    def _move(self, task_id: str, target: State, map_index: int = -1, **fields: Any) -> Transition:
        """Change one task instance's state: the only place the engine does."""
        ti = self.tis[task_id, map_index]
        source = ti.state
        change = Transition(task_id, source, target, ti.try_number, map_index=map_index, **fields)
        ti.state = target
        progress = self.expanded.get(task_id) if map_index >= 0 else None
        if progress is not None:
            tally = progress.tally
            tally[source] -= 1
            tally[target] = tally.get(target, 0) + 1
            if source is State.NONE:
                progress.waiting.discard(map_index)
            elif target is State.NONE:
                progress.waiting.add(map_index)
        if target in FINISHED_STATES and source not in FINISHED_STATES:
            self.unfinished -= 1
            if progress is not None:
                progress.unfinished -= 1
                if not progress.unfinished:  # the last instance: the task itself is done
                    progress.state = mapped_state(self._instance_states(task_id))
            if self.spec.tasks[task_id].downstream:
                self._touch_downstream(task_id, map_index)
        elif target not in FINISHED_STATES and source in FINISHED_STATES:
            self.unfinished += 1
            if progress is not None:
                progress.unfinished += 1
                progress.state = State.RUNNING
        return change


#: The next_kwargs of a try resumed because its deferral timed out (Airflow's reason).
_TIMEOUT_KWARGS = json.dumps({"error": DEFERRAL_TIMEOUT})


def resumed_with(
    next_method: str | None, next_kwargs: str | None, event: str | None, error: str | None
) -> tuple[str, str]:
    """The next_method and next_kwargs a deferred try resumes with once its trigger fired.

    The event's payload joins the stored kwargs as `event` (both tagged JSON,
    merged as JSON without decoding a value); a trigger that failed makes the
    resumed try fail with its error (Airflow's "__fail__").
    """
    if error is not None:
        first, _, rest = error.partition("\n")
        return FAIL_METHOD, json.dumps({"error": first, "traceback": rest or None})
    kwargs = json.loads(next_kwargs) if next_kwargs else {}
    kwargs["event"] = json.loads(event) if event else None
    return next_method or FAIL_METHOD, json.dumps(kwargs)


def _timer_holds(ti: TaskInstance, at: dt.datetime) -> bool:
    """Whether a timer at `at` still releases `ti` (a fired trigger released it already)."""
    if ti.state is State.DEFERRED:
        return ti.next_retry_at == at
    return ti.state in _WAITING


class _StateView(Mapping[str, State]):
    """Each task's state as trigger rules see it, read live from the engine without copying."""

    def __init__(self, engine: RunEngine) -> None:
        self._engine = engine

    def __getitem__(self, key: str) -> State:
        if key not in self._engine.spec.tasks:
            raise KeyError(key)
        return self._engine.state_of(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._engine.spec.tasks:
            return default
        return self._engine.state_of(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._engine.spec.tasks)

    def __len__(self) -> int:
        return len(self._engine.spec.tasks)
