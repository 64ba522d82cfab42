"""The scheduler table: claiming runs, declaring schedulers dead, fencing, the queueing lock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from databases import POSTGRES_ONLY
from sqlalchemy import text

from taskkit.errors import SchedulerFencedError
from taskkit.metastore import Metastore, RunRecord, TIChange
from taskkit.metastore.schedulers import CountsWanted
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.states import SchedulerState, State

A = TaskInstanceKey("etl", "run1", "a")
B = TaskInstanceKey("etl", "run1", "b")
C = TaskInstanceKey("etl", "run1", "c")
MakeRun = Callable[..., RunRecord]


def _other(metastore: Metastore) -> Metastore:
    """A second store on the same database, as another scheduler process opens it."""
    return Metastore.open(metastore.engine.url.render_as_string(hide_password=False))


def test_a_run_is_claimed_by_one_scheduler_only(metastore: Metastore, make_run: MakeRun) -> None:
    """Of two schedulers claiming, the first gets the unowned runs and the second none."""
    make_run("run1")
    make_run("run2")
    with (
        metastore.registered_scheduler("a", 1) as first,
        metastore.registered_scheduler("b", 2) as second,
    ):
        assert metastore.claim_runs(first, 1) == 1
        assert metastore.claim_runs(second, 5) == 1
        assert metastore.claim_runs(first, 5) == 0
    owners = {r.run_id: r.scheduler_id for r in metastore.list_runs()}
    assert sorted(owners.values()) == sorted([first, second])
    assert [r.run_id for r in metastore.list_owned_runs(second)] == [
        r for r, owner in owners.items() if owner == second
    ]


def test_a_silent_scheduler_is_declared_dead_and_its_tries_reset_without_spending_one(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Its queued and running tries go back to scheduled with one more try allowed, its
    succeeded ones stay, and its run is released for the others."""
    make_run(tasks=[TaskSpec("a"), TaskSpec("b"), TaskSpec("c")])
    with metastore.registered_scheduler("a", 1) as dead:
        metastore.claim_runs(dead, 1)
        metastore.transition_task_instances(
            [
                TIChange(A, {State.NONE}, state=State.QUEUED, try_number=1),
                TIChange(B, {State.NONE}, state=State.RUNNING, try_number=1, pid=42),
                TIChange(C, {State.NONE}, state=State.SUCCESS, try_number=1),
            ]
        )
        before = {ti.task_id: ti for ti in metastore.list_task_instances("etl", "run1")}

        assert metastore.reap_dead_schedulers(dt.timedelta(hours=1)).schedulers == ()
        reaped = metastore.reap_dead_schedulers(dt.timedelta(0))

    assert reaped.schedulers == (dead,) and reaped.runs_released == 1
    assert reaped.tries_reset == 2
    after = {ti.task_id: ti for ti in metastore.list_task_instances("etl", "run1")}
    for task_id in ("a", "b"):
        assert after[task_id].state is State.SCHEDULED
        assert after[task_id].max_tries == before[task_id].max_tries + 1
        assert after[task_id].pid is None
    assert after["c"] == before["c"]
    assert metastore.get_run("etl", "run1").scheduler_id is None
    [row] = metastore.list_schedulers(include_ended=True)
    assert row.state is SchedulerState.DEAD


def test_a_scheduler_declared_dead_can_write_nothing(
    metastore: Metastore, make_run: MakeRun, db_url: str
) -> None:
    """Once fenced, a store's writes raise and roll back; the reaper's store writes on."""
    make_run()
    fenced = _other(metastore)
    try:
        me = fenced.registered_scheduler("a", 1).__enter__()
        fenced.fence_writes(me, 10.0)
        if db_url.startswith("postgresql"):  # a session paused mid-transaction ends by itself
            with fenced.engine.connect() as connection:
                shown = connection.execute(text("SHOW idle_in_transaction_session_timeout"))
                assert shown.scalar() == "10s"
        fenced.claim_runs(me, 1)
        fenced.heartbeat_scheduler()
        metastore.reap_dead_schedulers(dt.timedelta(0))
        with pytest.raises(SchedulerFencedError, match="declared dead by another scheduler"):
            fenced.transition_task_instances([TIChange(A, {State.NONE}, state=State.SCHEDULED)])
        assert metastore.get_task_instance(A).state is State.NONE  # type: ignore[union-attr]
        with pytest.raises(SchedulerFencedError):
            fenced.heartbeat_scheduler()
    finally:
        fenced.dispose()


def test_a_live_schedulers_fenced_writes_tell_which_changes_applied(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """The fence goes with the changes (on PostgreSQL in one round trip): each change of a
    small and of a large batch, of two shapes, still says whether it applied, and the
    scheduler's heartbeat is stamped."""
    make_run(tasks=[TaskSpec(f"t{i:02d}") for i in range(20)])
    keys = [TaskInstanceKey("etl", "run1", f"t{i:02d}") for i in range(20)]
    metastore.transition_task_instances(
        [TIChange(keys[i], State.NONE, state=State.SKIPPED) for i in (1, 15)]
    )
    fenced = _other(metastore)
    try:
        with fenced.registered_scheduler("a", 1) as me:
            fenced.fence_writes(me, 10.0)
            [before] = [s for s in metastore.list_schedulers() if s.id == me]
            applied = fenced.transition_task_instances(
                [TIChange(k, State.NONE, state=State.QUEUED, try_number=1) for k in keys[:3]]
                + [TIChange(k, State.NONE, state=State.SCHEDULED) for k in keys[3:]]
            )
            [after] = [s for s in metastore.list_schedulers() if s.id == me]
    finally:
        fenced.dispose()
    assert [i for i, ok in enumerate(applied) if not ok] == [1, 15]
    states = [ti.state for ti in metastore.list_task_instances("etl", "run1")]
    assert states[:3] == [State.QUEUED, State.SKIPPED, State.QUEUED]
    assert states[15] is State.SKIPPED
    assert set(states[3:15] + states[16:]) == {State.SCHEDULED}
    assert after.heartbeat_at > before.heartbeat_at


def test_a_scheduler_whose_process_is_gone_is_declared_dead_at_once(
    metastore: Metastore, db_url: str
) -> None:
    """On PostgreSQL its presence lock is freed with its connection: no need to wait for its
    heartbeat to go stale. (SQLite has one scheduler and no presence lock.)"""
    with metastore.registered_scheduler("a", 1) as gone:
        assert metastore.reap_dead_schedulers(dt.timedelta(hours=1)).schedulers == ()
    reaped = metastore.reap_dead_schedulers(dt.timedelta(hours=1)).schedulers
    assert reaped == ((gone,) if db_url.startswith("postgresql") else ())


@POSTGRES_ONLY
def test_the_queueing_section_is_held_by_one_scheduler_at_a_time(
    metastore: Metastore, make_run: MakeRun, db_url: str
) -> None:
    """While one scheduler is in the critical section, another is told at once, not made to
    wait; the section sees every scheduler's queued tries."""
    make_run()
    metastore.transition_task_instances(
        [
            TIChange(A, {State.NONE}, state=State.QUEUED, try_number=1),
            TIChange(B, {State.NONE}, state=State.DEFERRED, try_number=1),
        ]
    )
    other = _other(metastore)
    try:
        with metastore.queueing_section(CountsWanted(1, None, 10)) as mine:
            assert mine is not None
            counts = mine.counts
            [occupant] = counts.occupants
            assert (occupant.task_id, occupant.tries, occupant.slots) == ("a", 1, 1)
            assert counts.deferred_slots == {"default_pool": 1}
            assert counts.scheduled_elsewhere == []  # we have nothing it could outrank
            with other.queueing_section(CountsWanted(2, 0, 10)) as theirs:
                assert theirs is None
        with other.queueing_section() as theirs:
            assert theirs is not None
            with pytest.raises(RuntimeError, match="without CountsWanted"):
                theirs.counts
    finally:
        other.dispose()


@POSTGRES_ONLY
def test_the_section_lists_other_schedulers_scheduled_tries_best_first(
    metastore: Metastore, make_run: MakeRun, db_url: str
) -> None:
    """What may outrank our tries: scheduled ones of runs another scheduler owns, highest
    priority first, none below the floor, none of ours and none of unowned runs."""
    tasks = [TaskSpec("a", priority_weight_total=9), TaskSpec("b", priority_weight_total=1)]
    make_run("run1", tasks=tasks)
    make_run("run2", tasks=tasks)
    make_run("run3", tasks=tasks)
    with (
        metastore.registered_scheduler("me", 1) as me,
        metastore.registered_scheduler("them", 2) as them,
    ):
        metastore.claim_runs(me, 1)  # run1 is ours
        metastore.claim_runs(them, 1)  # run2 theirs; run3 nobody's
        scheduled = [
            TIChange(TaskInstanceKey("etl", run, task), {State.NONE}, state=State.SCHEDULED)
            for run in ("run1", "run2", "run3")
            for task in ("a", "b")
        ]
        metastore.transition_task_instances(scheduled)

        def elsewhere(min_priority: int, limit: int) -> list[tuple[str, str]]:
            with metastore.queueing_section(CountsWanted(me, min_priority, limit)) as section:
                assert section is not None
                found = section.counts.scheduled_elsewhere
                assert all(f.logical_date.tzinfo == dt.timezone.utc for f in found)
                return [(f.run_id, f.task_id) for f in found]

        assert elsewhere(0, 10) == [("run2", "a"), ("run2", "b")]
        assert elsewhere(5, 10) == [("run2", "a")]
        assert elsewhere(0, 1) == [("run2", "a")]


def test_a_dead_schedulers_runs_are_inherited_with_their_tries_for_an_adopting_executor(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """With `inherit` (Celery: tries outlive their scheduler) the reaper takes the dead one's
    runs over as they are: no try is reset, nothing is released, no try is spent."""
    make_run(tasks=[TaskSpec("a"), TaskSpec("b"), TaskSpec("c")])
    heir = _other(metastore)
    try:
        with (
            metastore.registered_scheduler("a", 1) as dead,
            heir.registered_scheduler("b", 2) as me,
        ):
            metastore.claim_runs(dead, 1)
            metastore.transition_task_instances(
                [
                    TIChange(A, {State.NONE}, state=State.QUEUED, try_number=1),
                    TIChange(B, {State.NONE}, state=State.RUNNING, try_number=1, pid=42),
                    TIChange(C, {State.NONE}, state=State.SUCCESS, try_number=1),
                ]
            )
            before = metastore.list_task_instances("etl", "run1")
            heir.fence_writes(me, 60)

            reaped = heir.reap_dead_schedulers(dt.timedelta(0), inherit=True)

        run = metastore.get_run("etl", "run1")
        assert reaped.schedulers == (dead,) and reaped.inherited == (run.id,)
        assert (reaped.runs_released, reaped.tries_reset) == (0, 0)
        assert run.scheduler_id == me
        assert metastore.list_task_instances("etl", "run1") == before
        states = {s.id: s.state for s in metastore.list_schedulers(include_ended=True)}
        assert states[dead] is SchedulerState.DEAD
    finally:
        heir.dispose()
