"""Pools: CRUD, refusals, and occupancy derived from task instance states."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from taskkit.errors import PoolError, PoolNotFoundError
from taskkit.metastore import Metastore, PoolRecord, RunRecord, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.states import State

MakeRun = Callable[..., RunRecord]


def test_set_pool_creates_then_updates(metastore: Metastore) -> None:
    """set_pool creates a pool, then changes its slots and keeps its description."""
    metastore.set_pool("db", 4, "the database")
    metastore.set_pool("db", 6)
    assert metastore.list_pools() == [
        PoolRecord("db", 6, "the database", 0, 0),
        PoolRecord("default_pool", 128, "Default pool", 0, 0),
    ]
    assert metastore.get_pool_slots() == {"db": 6, "default_pool": 128}


def test_negative_slots_are_refused(metastore: Metastore) -> None:
    """A pool cannot have fewer than 0 slots."""
    with pytest.raises(PoolError, match="-1"):
        metastore.set_pool("db", -1)


def test_default_pool_cannot_be_deleted(metastore: Metastore) -> None:
    """Deleting default_pool is refused and it stays."""
    with pytest.raises(PoolError, match="default_pool"):
        metastore.delete_pool("default_pool")
    assert "default_pool" in metastore.get_pool_slots()


def test_deleting_an_unknown_pool_is_an_error(metastore: Metastore) -> None:
    """Deleting a pool that does not exist raises PoolNotFoundError (a LookupError)."""
    with pytest.raises(PoolNotFoundError, match="nope"):
        metastore.delete_pool("nope")
    with pytest.raises(LookupError):
        metastore.delete_pool("nope")


def test_delete_pool_removes_it(metastore: Metastore) -> None:
    """A deleted pool is gone from the listing."""
    metastore.set_pool("db", 2)
    metastore.delete_pool("db")
    assert [p.name for p in metastore.list_pools()] == ["default_pool"]


def test_occupancy_is_derived_from_states(metastore: Metastore, make_run: MakeRun) -> None:
    """Queued and running TIs count toward pools, DAGs and tasks; other states do not."""
    metastore.set_pool("db", 10)
    tasks = [
        TaskSpec("a", pool="db", pool_slots=3),
        TaskSpec("b", pool="db", pool_slots=2),
        TaskSpec("c"),
        TaskSpec("d", pool="db", pool_slots=5),
    ]
    make_run("r1", tasks)

    def key(task_id: str) -> TaskInstanceKey:
        return TaskInstanceKey("etl", "r1", task_id)

    metastore.transition_task_instances(
        [
            TIChange(key("a"), {State.NONE}, state=State.QUEUED),
            TIChange(key("b"), {State.NONE}, state=State.RUNNING),
            TIChange(key("c"), {State.NONE}, state=State.RUNNING),
            TIChange(key("d"), {State.NONE}, state=State.SUCCESS),
        ]
    )
    pools = {p.name: p for p in metastore.list_pools()}
    assert (pools["db"].queued, pools["db"].running, pools["db"].open_slots) == (3, 2, 5)
    assert (pools["default_pool"].queued, pools["default_pool"].running) == (0, 1)


def test_deferred_slots_are_listed_and_held_only_with_include_deferred(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """A deferred task's slots show as deferred; they leave the pool's open slots only when
    the pool includes deferred tasks, which the scheduler reads with the pool sizes."""
    metastore.set_pool("api", 4)
    make_run("r1", [TaskSpec("a", pool="api", pool_slots=3)])
    key = TaskInstanceKey("etl", "r1", "a")
    metastore.transition_task_instances([TIChange(key, {State.NONE}, state=State.DEFERRED)])
    [api] = [p for p in metastore.list_pools() if p.name == "api"]
    assert (api.deferred, api.include_deferred, api.open_slots) == (3, False, 4)
    assert metastore.get_pool_limits() == ({"api": 4, "default_pool": 128}, frozenset())
    metastore.set_pool("api", 4, include_deferred=True)
    metastore.set_pool("api", 5)  # leaving it out keeps it
    [api] = [p for p in metastore.list_pools() if p.name == "api"]
    assert (api.slots, api.include_deferred, api.open_slots) == (5, True, 2)
    assert metastore.get_pool_limits()[1] == frozenset({"api"})
