"""Real processes racing on one metastore: no lost or doubled transitions, no lock errors."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskkit.metastore import Metastore, RunRecord, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.states import State

MakeRun = Callable[..., RunRecord]
PROCESSES = 4


def _run_processes(
    target_name: str, args_for: Callable[[int, Any, Any], tuple[Any, ...]]
) -> list[Any]:
    """Start PROCESSES spawned workers sharing a barrier, and collect what each reports."""
    import metastore_race_workers

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    target = getattr(metastore_race_workers, target_name)
    processes = [
        context.Process(target=target, args=args_for(i, barrier, results)) for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    errors = [report[2] for report in reports if report[0] == "error"]
    assert not errors, "\n".join(errors)
    return reports


@pytest.fixture(autouse=True)
def _workers_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spawned children inherit sys.path, so they can import the worker module by name.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def test_exactly_one_process_wins_each_transition(
    metastore: Metastore, make_run: MakeRun, db_url: str
) -> None:
    """Processes racing to move the same TIs queued->running->success: one winner per step."""
    tasks = [TaskSpec(f"t{i}") for i in range(8)]
    make_run("race", tasks)
    keys = [TaskInstanceKey("etl", "race", t.task_id) for t in tasks]
    metastore.transition_task_instances([TIChange(k, State.NONE, state=State.QUEUED) for k in keys])

    reports = _run_processes(
        "race_transitions", lambda i, barrier, results: (db_url, keys, barrier, results)
    )

    wins = Counter(
        (key, target) for _, _, won in reports for key, target, applied in won if applied
    )
    assert wins == Counter({(k, s): 1 for k in keys for s in (State.RUNNING, State.SUCCESS)})
    final = metastore.list_task_instances("etl", "race")
    assert {ti.state for ti in final} == {State.SUCCESS}


def test_concurrent_writers_never_see_database_is_locked(metastore: Metastore, db_url: str) -> None:
    """Several processes writing read-then-write units at once all succeed, with nothing lost."""
    rounds = 25
    _run_processes("write_a_lot", lambda i, barrier, results: (db_url, i, rounds, barrier, results))
    assert len(metastore.list_runs()) == PROCESSES * rounds
    assert sum(p.queued for p in metastore.list_pools()) == PROCESSES * rounds
    pools = metastore.get_pool_slots()
    assert all(pools[f"pool{i}"] == rounds - 1 for i in range(PROCESSES))
