"""ActiveRun: what the scheduler hands an executor for one try, and how runs are ordered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from taskkit.execution.workload import EncodedXCom
from taskkit.model.dag import DagSpec
from taskkit.model.task import TaskSpec
from taskkit.scheduling.active_run import ActiveRun, run_order
from taskkit.scheduling.engine import RunEngine

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _run(
    run_id: str = "r",
    logical_date: dt.datetime = T0,
    pk: int = 1,
    xcoms: dict[tuple[str, int], dict[str, object]] | None = None,
) -> ActiveRun:
    spec = DagSpec(
        "d",
        {
            "a": TaskSpec("a", downstream=frozenset({"b"})),
            "b": TaskSpec(
                "b",
                upstream=frozenset({"a"}),
                retries=2,
                execution_timeout=dt.timedelta(seconds=3),
                pool="db",
                pool_slots=2,
                priority_weight_total=5,
            ),
        },
    )
    return ActiveRun(
        pk,
        "d",
        run_id,
        7,
        logical_date,
        {"c": 1},
        "manual",
        None,
        None,
        RunEngine(spec, xcoms=xcoms),
    )


def test_a_workload_carries_the_try_its_ancestors_values_and_its_limits(tmp_path: Path) -> None:
    """The workload names try 1 of b, its own log file, a's value and b's timeout."""
    run = _run(xcoms={("a", -1): {"return_value": EncodedXCom(b"1", "json")}})
    run.engine.decide()
    run.engine.ti("b").try_number = 1
    workload = run.workload("b", tmp_path)
    assert (workload.try_number, workload.max_tries, workload.dag_version_id) == (1, 3, 7)
    assert workload.upstream_xcoms == {("a", "return_value"): EncodedXCom(b"1", "json")}
    assert workload.execution_timeout_s == 3.0
    assert workload.log_path == str(tmp_path / "d" / "r" / "b" / "1.log")
    assert workload.conf == {"c": 1}


def test_candidates_carry_pool_priority_and_order_older_runs_first() -> None:
    """A candidate has the task's pool, slots and priority; an earlier logical date sorts first."""
    late_created_backfill = _run("old", T0 - dt.timedelta(days=365), pk=9)
    today = _run("new", T0, pk=1)
    candidate = today.candidate("b", dag_limit=16)
    assert (candidate.pool, candidate.pool_slots, candidate.priority) == ("db", 2, 5)
    assert late_created_backfill.candidate("b", 16).run_order < candidate.run_order
    assert run_order(T0, 1) < run_order(T0, 2)


def test_a_mapped_instance_has_its_own_key_and_log_file(tmp_path: Path) -> None:
    """Instance 2 of b: the key carries map_index 2 and the log lives under map_index=2/."""
    run = _run()
    run.engine.tis["b", 2] = run.engine.tis.pop(("b", -1))
    run.engine.ti("b", 2).try_number = 1
    workload = run.workload("b", tmp_path, map_index=2)
    assert workload.key.map_index == 2
    assert workload.log_path == str(tmp_path / "d" / "r" / "b" / "map_index=2" / "1.log")
    assert run.candidate("b", 16, map_index=2).key.map_index == 2
