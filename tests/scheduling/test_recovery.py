"""Start-up recovery: tries a dead scheduler left queued or running are reset, once, for free."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from taskkit.execution.base import TI
from taskkit.metastore import Metastore, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.scheduling.recovery import recover_orphaned_tries
from taskkit.states import RunType, State

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class _Adopts:
    """An executor that takes over the tries running on `hosts` (as Celery workers outlive us)."""

    def __init__(self, *hosts: str) -> None:
        self.hosts = set(hosts)

    def adopt(self, tis: Sequence[TI]) -> list[TI]:
        return [ti for ti in tis if ti.hostname not in self.hosts]


def _run_with(metastore: Metastore, states: dict[str, tuple[State, str | None]]) -> None:
    saved = metastore.save_dag_version("d", "/dags/d.py", b"p", "h", "s")
    metastore.create_run(
        "d",
        "r",
        T0,
        run_type=RunType.MANUAL,
        dag_version_id=saved.version_id,
        tasks=[TaskSpec(t) for t in states],
    )
    metastore.transition_task_instances(
        [
            TIChange(TaskInstanceKey("d", "r", t), State.NONE, state=s, try_number=1, hostname=h)
            for t, (s, h) in states.items()
        ]
    )


def test_orphans_are_rescheduled_without_spending_a_try(metastore: Metastore) -> None:
    """Queued and running tries go back to scheduled with one more try; successes stay."""
    _run_with(
        metastore,
        {"q": (State.QUEUED, None), "r": (State.RUNNING, "h1"), "ok": (State.SUCCESS, "h1")},
    )
    assert recover_orphaned_tries(metastore, _Adopts()) == 2
    tis = {ti.task_id: ti for ti in metastore.list_task_instances("d", "r")}
    assert {t: ti.state for t, ti in tis.items()} == {
        "ok": State.SUCCESS,
        "q": State.SCHEDULED,
        "r": State.SCHEDULED,
    }
    assert tis["r"].max_tries == 2 and tis["r"].hostname is None
    assert "previous scheduler died" in (tis["r"].wait_reason or "")


def test_tries_the_executor_adopts_are_left_running(metastore: Metastore) -> None:
    """A try an executor adopts (its worker lives on) is not reset."""
    _run_with(metastore, {"a": (State.RUNNING, "worker-1"), "b": (State.RUNNING, "gone")})
    assert recover_orphaned_tries(metastore, _Adopts("worker-1")) == 1
    tis = {ti.task_id: ti.state for ti in metastore.list_task_instances("d", "r")}
    assert tis == {"a": State.RUNNING, "b": State.SCHEDULED}
