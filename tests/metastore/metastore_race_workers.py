"""Worker functions that test_concurrency.py runs in spawned processes (importable by name)."""

from __future__ import annotations

import datetime as dt
import os
import traceback
from typing import Any

from taskkit.metastore import Metastore, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.states import RunType, State


def race_transitions(url: str, keys: list[TaskInstanceKey], barrier: Any, results: Any) -> None:
    """For each key, race the others to move it queued->running, then running->success."""
    try:
        store = Metastore.open(url)
        won: list[tuple[TaskInstanceKey, State, bool]] = []
        for key in keys:
            for source, target in ((State.QUEUED, State.RUNNING), (State.RUNNING, State.SUCCESS)):
                barrier.wait(timeout=60)
                change = TIChange(key, {source}, state=target, pid=os.getpid())
                [applied] = store.transition_task_instances([change])
                won.append((key, target, applied))
        store.dispose()
        results.put(("ok", os.getpid(), won))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def write_a_lot(url: str, worker: int, rounds: int, barrier: Any, results: Any) -> None:
    """Run read-then-write units of work (runs, versions, pools, transitions) flat out."""
    try:
        store = Metastore.open(url)
        barrier.wait(timeout=60)
        base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        for i in range(rounds):
            saved = store.save_dag_version(f"dag{i % 3}", "/d.py", b"p", f"h{i % 3}", "s")
            run_id = f"w{worker}_{i}"
            store.create_run(
                f"dag{i % 3}",
                run_id,
                base + dt.timedelta(minutes=i),
                run_type=RunType.MANUAL,
                dag_version_id=saved.version_id,
                tasks=[TaskSpec("t1"), TaskSpec("t2")],
            )
            key = TaskInstanceKey(f"dag{i % 3}", run_id, "t1")
            store.transition_task_instances([TIChange(key, {State.NONE}, state=State.QUEUED)])
            store.heartbeat_task_instances([key])
            store.set_pool(f"pool{worker}", i)
            store.list_pools()
        store.dispose()
        results.put(("ok", worker, rounds))
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))
