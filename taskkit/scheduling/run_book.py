"""The runs a scheduler holds in memory, and the timers and counts that follow them.

Held runs (`runs`) and runs waiting for max_active_runs (`queued_runs`), the
scheduled task instances ready for selection, what occupies pools and slots,
when runs have a retry or a dagrun_timeout due, and which run follows another's
states for depends_on_past. Holding or dropping a run keeps all of them in step.
The metastore stays the source of truth: this book is rebuilt from it on start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
from collections.abc import Iterator

import attrs

from taskkit.metastore.records import RunRecord
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.active_run import ActiveRun
from taskkit.scheduling.ready_queue import ReadyQueue
from taskkit.scheduling.selection import Occupancy
from taskkit.states import OCCUPYING_STATES, State

#: A run by (dag_id, run_id).
RunIdent = tuple[str, str]
#: Runs by when something is due for them: (time, dag_id, run_id), a heap.
Timers = list[tuple[dt.datetime, str, str]]


@attrs.define
class RunBook:
    """The scheduler's in-memory runs and what it derives from them; see the module docstring."""

    runs: dict[RunIdent, ActiveRun] = attrs.Factory(dict)
    queued_runs: dict[RunIdent, RunRecord] = attrs.Factory(dict)
    scheduled: ReadyQueue = attrs.Factory(ReadyQueue)
    occupancy: Occupancy = attrs.Factory(Occupancy)
    #: When runs have a retry due; their engines own the timers of each task instance.
    retries: Timers = attrs.Factory(list)
    #: When runs pass their dagrun_timeout.
    timeouts: Timers = attrs.Factory(list)
    #: A run -> the run after it whose depends_on_past tasks follow its states.
    followers: dict[RunIdent, RunIdent] = attrs.Factory(dict)
    #: The last wait reason written for each scheduled task instance (`taskkit tasks why`).
    wait_reasons: dict[TaskInstanceKey, str] = attrs.Factory(dict)

    def hold(self, run: ActiveRun, started_at: dt.datetime, dag_limit: int) -> None:
        """Hold a loaded run: its timers, its scheduled and its occupying task instances."""
        self.runs[run.dag_id, run.run_id] = run
        if run.spec.dagrun_timeout is not None:
            with contextlib.suppress(OverflowError):  # a timeout past year 9999 never passes
                deadline = started_at + run.spec.dagrun_timeout
                heapq.heappush(self.timeouts, (deadline, run.dag_id, run.run_id))
        retry_at = run.engine.next_retry_at()
        if retry_at is not None:
            self.add_retry(run, retry_at)
        for (task_id, map_index), ti in run.engine.tis.items():
            if ti.state is State.SCHEDULED:
                self.scheduled.add(run.candidate(task_id, dag_limit, map_index))
            elif ti.state in OCCUPYING_STATES:
                self.occupy(run, task_id)
            elif ti.state is State.DEFERRED:
                spec = run.spec.tasks[task_id]
                self.occupancy.defer(spec.pool, spec.pool_slots)

    def unload(self, run: ActiveRun) -> None:
        """Forget what a run no longer held registered (the caller removed it from `runs`)."""
        if run.previous is not None:
            self.followers.pop(run.previous, None)
        self.scheduled.discard(run.key(*ti_key) for ti_key in run.engine.tis)
        for (task_id, map_index), ti in run.engine.tis.items():
            self.wait_reasons.pop(run.key(task_id, map_index), None)
            if ti.state in OCCUPYING_STATES:
                self.release(run, task_id)
            elif ti.state is State.DEFERRED:
                spec = run.spec.tasks[task_id]
                self.occupancy.undefer(spec.pool, spec.pool_slots)

    def occupy(self, run: ActiveRun, task_id: str) -> None:
        """A task instance of the run took its pool slots and counts against its limits."""
        spec = run.spec.tasks[task_id]
        self.occupancy.add(run.dag_id, task_id, spec.pool, spec.pool_slots, run.run_id)

    def release(self, run: ActiveRun, task_id: str) -> None:
        """A task instance of the run stopped occupying (finished, timed out, unloaded)."""
        spec = run.spec.tasks[task_id]
        self.occupancy.remove(run.dag_id, task_id, spec.pool, spec.pool_slots, run.run_id)

    def follow(self, run: ActiveRun, previous: RunIdent) -> None:
        """`run`'s depends_on_past tasks follow the states of the run before it from now on."""
        run.previous = previous
        self.followers[previous] = (run.dag_id, run.run_id)

    def follower(self, run: ActiveRun) -> ActiveRun | None:
        """The held run following `run`'s states, if any."""
        ident = self.followers.get((run.dag_id, run.run_id))
        return None if ident is None else self.runs.get(ident)

    def add_retry(self, run: ActiveRun, at: dt.datetime) -> None:
        """A task instance of the run waits for a retry (or its next poke) until `at`."""
        heapq.heappush(self.retries, (at, run.dag_id, run.run_id))

    def due_retries(self, now: dt.datetime) -> Iterator[ActiveRun]:
        """Held runs with a retry due by `now` (each popped from its timer as it is yielded)."""
        return _due(self.retries, self.runs, now)

    def due_timeouts(self, now: dt.datetime) -> Iterator[ActiveRun]:
        """Held runs past their dagrun_timeout by `now`."""
        return _due(self.timeouts, self.runs, now)

    def next_timer(self) -> dt.datetime | None:
        """When the next retry or dagrun_timeout is due."""
        heads = [timers[0][0] for timers in (self.retries, self.timeouts) if timers]
        return min(heads, default=None)


def _due(timers: Timers, runs: dict[RunIdent, ActiveRun], now: dt.datetime) -> Iterator[ActiveRun]:
    while timers and timers[0][0] <= now:
        _, dag_id, run_id = heapq.heappop(timers)
        run = runs.get((dag_id, run_id))
        if run is not None:
            yield run
