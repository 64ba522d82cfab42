"""The pure decisions of a scheduler among several: claim quotas, global counts, parallelism."""

from __future__ import annotations

from watched import Watched

from taskkit.metastore.schedulers import Occupant
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.ha import (
    claim_quota,
    global_occupancy,
    select_across,
    shares_metastore,
)
from taskkit.scheduling.selection import Candidate, Occupancy, select_tasks


def test_a_lone_scheduler_claims_every_unowned_run() -> None:
    """With nobody else alive, one scheduler takes all the unowned runs."""
    assert claim_quota(alive=1, active=22, unowned=22, mine=0) == 22


def test_schedulers_claim_a_fair_share_that_leaves_nothing_unowned() -> None:
    """Three schedulers split 22 runs 8, 8, 6: shares round up, so every run gets an owner."""
    first = claim_quota(alive=3, active=22, unowned=22, mine=0)
    second = claim_quota(alive=3, active=22, unowned=22 - first, mine=0)
    third = claim_quota(alive=3, active=22, unowned=22 - first - second, mine=0)
    assert (first, second, third) == (8, 8, 6)


def test_a_scheduler_at_its_share_claims_nothing_more() -> None:
    """A scheduler already holding its share leaves the new runs to the others."""
    assert claim_quota(alive=2, active=10, unowned=2, mine=5) == 0
    assert claim_quota(alive=2, active=10, unowned=0, mine=0) == 0


def test_global_occupancy_counts_every_schedulers_tries_and_slots() -> None:
    """Tries of runs other schedulers own count against the pool, the DAG and the total."""
    occupancy = global_occupancy(
        [
            Occupant("etl", "r1", "load", "wh", tries=2, slots=4),
            Occupant("etl", "r2", "load", "wh", tries=1, slots=2),
            Occupant("bi", "r9", "report", "default_pool", tries=1, slots=1),
        ]
    )
    assert occupancy.total == 4
    assert occupancy.per_pool["wh"] == 6
    assert occupancy.per_dag["etl"] == 3
    assert occupancy.per_task["etl", "load"] == 3
    assert occupancy.per_run_task["etl", "r1", "load"] == 2


def test_deferred_instances_of_every_scheduler_fill_the_pools_that_count_them() -> None:
    """A pool with include_deferred is full of another scheduler's deferred instances."""
    occupancy = global_occupancy([], {"sensors": 2})
    key = TaskInstanceKey("fan", "mine", "wait")
    waiting = Candidate(key, priority=1, pool="sensors", pool_slots=1)
    counted = select_tasks(
        [waiting],
        pools={"sensors": 2},
        parallelism=32,
        occupancy=occupancy,
        include_deferred={"sensors"},
    )
    assert counted.start == []
    ignored = select_tasks([waiting], pools={"sensors": 2}, parallelism=32, occupancy=occupancy)
    assert ignored.start == [waiting]


def test_a_pool_filled_by_another_scheduler_admits_nothing_more() -> None:
    """Selection under global counts: a 3-slot pool holding another scheduler's 2-slot try
    takes one more 1-slot task, and a 2-slot task waits (holding the pool, so it is not
    starved by smaller ones)."""
    occupancy = global_occupancy([Occupant("fan", "other", "t0", "fan", tries=1, slots=2)])
    key = TaskInstanceKey("fan", "mine", "t1")
    big = Candidate(key, priority=10, pool="fan", pool_slots=2)
    small = Candidate(TaskInstanceKey("fan", "mine", "t2"), priority=1, pool="fan", pool_slots=1)
    selection = select_tasks([big, small], pools={"fan": 3}, parallelism=32, occupancy=occupancy)
    assert selection.start == []
    assert selection.waits[key].kind.value == "pool_full"


def _ti(run_id: str, task_id: str, priority: int, slots: int = 1) -> Candidate:
    return Candidate(TaskInstanceKey("d", run_id, task_id), priority, "p", pool_slots=slots)


def test_another_schedulers_higher_priority_try_keeps_its_slot_free_for_its_owner() -> None:
    """Priorities order work across schedulers: our low try waits while theirs outranks it."""
    ours, theirs = _ti("mine", "low", 1), _ti("other", "high", 9)
    selection = select_across(
        [ours],
        [theirs],
        pools={"p": 1},
        parallelism=32,
        capacity_left=8,
        occupancy=Occupancy(),
        explain=True,
        include_deferred=frozenset(),
    )
    assert selection.start == []  # the one slot is theirs to take on their turn
    assert ours.key in selection.waits and theirs.key not in selection.waits


def test_ours_start_in_the_slots_the_higher_ones_leave_and_within_our_executors_room() -> None:
    """The global order decides who fits; of ours, only as many as our executor has room for."""
    ours = [_ti("mine", f"t{n}", 5) for n in range(4)]
    selection = select_across(
        ours,
        [_ti("other", "high", 9, slots=2)],
        pools={"p": 5},
        parallelism=32,
        capacity_left=2,
        occupancy=Occupancy(),
        explain=False,
        include_deferred=frozenset(),
    )
    assert [c.key.task_id for c in selection.start] == ["t0", "t1"]


def test_a_long_backlog_of_ours_is_read_only_as_far_as_the_round_goes() -> None:
    """Ours come best first and are merged with theirs by priority, not all sorted again:
    a 1,000-try backlog costs a round what it starts, whoever else waits."""
    seen: list[str] = []
    ours = Watched((_ti("mine", f"t{n:04d}", 5 if n < 500 else 1) for n in range(1000)), seen)
    selection = select_across(
        ours,
        [_ti("other", "mid", 3), _ti("other", "top", 9)],
        pools={"p": 128},
        parallelism=4,
        capacity_left=8,
        occupancy=Occupancy(),
        explain=False,
        include_deferred=frozenset(),
    )
    # "top" outranks ours and keeps its slot for its owner; three of ours fill the rest.
    assert [c.key.task_id for c in selection.start] == ["t0000", "t0001", "t0002"]
    assert len(seen) < 10


def test_parallelism_is_global() -> None:
    """Every scheduler's occupying tries count against core.parallelism."""
    occupancy = Occupancy(total=31)
    selection = select_across(
        [_ti("mine", "a", 1), _ti("mine", "b", 1)],
        [],
        pools={"p": 10},
        parallelism=32,
        capacity_left=8,
        occupancy=occupancy,
        explain=False,
        include_deferred=frozenset(),
    )
    assert [c.key.task_id for c in selection.start] == ["a"]


def test_only_postgresql_runs_several_schedulers() -> None:
    """SQLite keeps its single-scheduler lease; on PostgreSQL any executor shares."""
    assert shares_metastore("postgresql")
    assert not shares_metastore("sqlite")
