"""Pools as the UI shows them: never more in use than they hold; who holds and who waits."""

from __future__ import annotations

import datetime as dt

from taskkit.metastore import Metastore, TIChange
from taskkit.metastore.views import PoolUsage
from taskkit.model.task import TaskSpec
from taskkit.services.pools import PoolView, list_pools, pool_detail
from taskkit.states import RunType, State


def test_an_overcommitted_pool_never_shows_more_than_it_holds() -> None:
    """A pool shrunk below its use shows 0 open and a bar that adds up to at most 100%."""
    view = PoolView.of(PoolUsage("p", 2, None, running=3, queued=1, scheduled=5))
    assert view.open_slots == 0
    assert view.occupied_slots == 4
    assert sum(view.bar().values()) <= 100.0
    calm = PoolView.of(PoolUsage("p", 4, None, running=1, queued=1, scheduled=0))
    assert calm.open_slots == 2
    assert calm.bar() == {"running": 25.0, "queued": 25.0, "deferred": 0.0, "open": 50.0}


def test_holders_and_waiters_of_a_pool(metastore: Metastore) -> None:
    """Running and queued task instances hold a pool's slots; scheduled ones wait, by priority."""
    metastore.set_pool("one", 1)
    metastore.save_dag_version("d", "/d.py", b"x", "h", "s")
    tasks = [
        TaskSpec("a", pool="one", priority_weight_total=1),
        TaskSpec("b", pool="one", priority_weight_total=5),
        TaskSpec("c", pool="one", priority_weight_total=3),
    ]
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    metastore.create_run("d", "r", when, run_type=RunType.MANUAL, dag_version_id=1, tasks=tasks)
    keys = {t.task_id: t.key for t in metastore.list_task_instances("d", "r")}
    metastore.transition_task_instances(
        [
            TIChange(keys["a"], expected=State.NONE, state=State.RUNNING),
            TIChange(keys["b"], expected=State.NONE, state=State.SCHEDULED, wait_reason="full"),
            TIChange(keys["c"], expected=State.NONE, state=State.SCHEDULED, wait_reason="full"),
        ]
    )
    one = next(p for p in list_pools(metastore) if p.name == "one")
    assert (one.running_slots, one.queued_slots, one.scheduled_slots, one.open_slots) == (
        1,
        0,
        2,
        0,
    )
    detail = pool_detail(metastore, "one")
    assert [t.task_id for t in detail.holders] == ["a"]
    assert [t.task_id for t in detail.waiters] == ["b", "c"]
    assert detail.waiters[0].wait_reason == "full"
