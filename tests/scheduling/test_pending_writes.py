"""The scheduler's pending writes: a task decided and queued in one round is one UPDATE."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from taskkit.metastore import Metastore, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.scheduling.instances import Transition
from taskkit.scheduling.pending_writes import PendingWrites
from taskkit.states import State

KEY = TaskInstanceKey("etl", "run1", "a")
SECRET = b"k" * 32
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _decided_and_queued(pending: PendingWrites) -> None:
    """What a round does to a task whose upstream just finished: schedule it, then queue it."""
    pending.record(KEY, Transition("a", State.NONE, State.SCHEDULED, 0), SECRET)
    pending.add(TIChange(KEY, expected=State.SCHEDULED, wait_reason="pool 'db' is full"))
    queued = Transition("a", State.SCHEDULED, State.QUEUED, 1)
    pending.record(KEY, queued, SECRET, queued_at=NOW, wait_reason=None)  # as Scheduler._queue


def test_a_task_scheduled_and_queued_in_one_round_is_one_change(
    metastore: Metastore, make_run: Callable[..., object]
) -> None:
    """The three changes fold into one, conditioned on the first's expected state, with the
    later columns winning (the queueing clears the wait reason): the row ends queued, as
    after the three UPDATEs in turn."""
    make_run(tasks=[TaskSpec("a")])
    pending = PendingWrites()
    _decided_and_queued(pending)
    (change,) = pending.changes
    assert change.expected == {State.NONE}
    assert (change.state, change.try_number, change.queued_at) == (State.QUEUED, 1, NOW)
    lost, _ = pending.write(metastore)
    assert lost == set()
    (ti,) = metastore.list_task_instances("etl", "run1")
    assert (ti.state, ti.try_number, ti.queued_at, ti.wait_reason) == (State.QUEUED, 1, NOW, None)


def test_a_folded_change_is_lost_with_the_one_it_continues(
    metastore: Metastore, make_run: Callable[..., object]
) -> None:
    """When someone else moved the row, the whole folded change is lost and nothing of it
    applies (the scheduler reloads the run), rather than the queueing applying alone."""
    make_run(tasks=[TaskSpec("a")])
    metastore.transition_task_instances([TIChange(KEY, State.NONE, state=State.SCHEDULED)])
    pending = PendingWrites()
    _decided_and_queued(pending)
    lost, _ = pending.write(metastore)
    assert lost == {KEY}
    (ti,) = metastore.list_task_instances("etl", "run1")
    assert (ti.state, ti.try_number, ti.wait_reason) == (State.SCHEDULED, 0, None)


def test_an_unsent_try_stays_scheduled(
    metastore: Metastore, make_run: Callable[..., object]
) -> None:
    """A try queued but never handed to the executor (the scheduler stopping) is written as
    scheduled: the queueing folded into its change comes out again."""
    make_run(tasks=[TaskSpec("a")])
    pending = PendingWrites()
    _decided_and_queued(pending)
    pending.drop_unsent({KEY})
    (change,) = pending.changes
    assert (change.expected, change.state) == ({State.NONE}, State.SCHEDULED)
    pending.write(metastore)
    (ti,) = metastore.list_task_instances("etl", "run1")
    assert (ti.state, ti.try_number, ti.wait_reason) == (State.SCHEDULED, 0, "pool 'db' is full")


def test_changes_that_do_not_continue_each_other_stay_apart() -> None:
    """A change expecting another state than the pending one leaves (a start written for a
    try the pending change already ended) is kept as its own UPDATE, which will not apply."""
    pending = PendingWrites()
    pending.record(KEY, Transition("a", State.RUNNING, State.SUCCESS, 1), SECRET, ended_at=NOW)
    pending.add(TIChange(KEY, expected=State.QUEUED, state=State.RUNNING, started_at=NOW))
    assert [c.state for c in pending.changes] == [State.SUCCESS, State.RUNNING]
