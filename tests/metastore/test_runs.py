"""DAG runs: atomic creation with task instances, duplicate refusal, conditional state changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from taskkit.errors import DuplicateRunError, RunNotFoundError
from taskkit.metastore import Metastore, RunRecord
from taskkit.model.task import TaskSpec
from taskkit.states import RunState, RunType, State

MakeRun = Callable[..., RunRecord]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_create_run_creates_one_fresh_ti_per_task(metastore: Metastore, make_run: MakeRun) -> None:
    """A new run is queued and each task gets a TI in state none, try 0, with its spec's slots."""
    big = 2**62 + 7  # priority totals are exact 64-bit integers
    tasks = [
        TaskSpec("a", pool="db", pool_slots=3, priority_weight_total=big, retries=2, queue="q"),
        TaskSpec("b"),
    ]
    run = make_run("r1", tasks)
    assert (run.state, run.run_type, run.conf) == (RunState.QUEUED, RunType.MANUAL, {})
    assert run.logical_date == T0
    a, b = metastore.list_task_instances("etl", "r1")
    assert (a.task_id, a.state, a.try_number, a.max_tries) == ("a", State.NONE, 0, 3)
    assert (a.pool, a.pool_slots, a.priority_weight, a.queue) == ("db", 3, big, "q")
    assert (b.pool, b.pool_slots, b.dag_run_id) == ("default_pool", 1, run.id)


def test_duplicate_run_id_is_refused(metastore: Metastore, make_run: MakeRun) -> None:
    """A second run with the same run_id fails and leaves the first one's TIs alone."""
    make_run("r1")
    with pytest.raises(DuplicateRunError, match="r1"):
        make_run("r1", [TaskSpec("z")], logical_date=T0 + dt.timedelta(days=1))
    assert [ti.task_id for ti in metastore.list_task_instances("etl", "r1")] == ["a", "b"]


def test_one_interval_is_scheduled_once_but_manual_runs_may_share_it(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Two scheduled runs at one logical date are refused; a manual run at that date is fine."""
    make_run("scheduled__1", run_type=RunType.SCHEDULED)
    with pytest.raises(DuplicateRunError, match="scheduled__1"):
        make_run("scheduled__2", run_type=RunType.SCHEDULED)
    make_run("manual__1", run_type=RunType.MANUAL)
    assert len(metastore.list_runs("etl")) == 2


def test_unknown_run_is_an_error(metastore: Metastore) -> None:
    """Asking for a run that does not exist raises RunNotFoundError."""
    with pytest.raises(RunNotFoundError, match="nope"):
        metastore.get_run("etl", "nope")


def test_set_run_state_is_conditional_and_stamps_times(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """A run moves only from an expected state; running and finishing stamp their times."""
    make_run("r1")
    assert metastore.set_run_state("etl", "r1", RunState.RUNNING, expected={RunState.QUEUED})
    assert not metastore.set_run_state("etl", "r1", RunState.RUNNING, expected={RunState.QUEUED})
    assert metastore.set_run_state("etl", "r1", RunState.SUCCESS, expected={RunState.RUNNING})
    run = metastore.get_run("etl", "r1")
    assert run.state is RunState.SUCCESS
    assert run.started_at is not None and run.ended_at is not None
    assert run.ended_at >= run.started_at


def test_active_runs_are_queued_or_running_oldest_first(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """list_active_runs returns unfinished runs by logical date; list_runs is newest first."""
    make_run("late", logical_date=T0 + dt.timedelta(days=2))
    make_run("early", logical_date=T0)
    make_run("done", logical_date=T0 + dt.timedelta(days=1))
    metastore.set_run_state("etl", "done", RunState.FAILED)
    assert [r.run_id for r in metastore.list_active_runs()] == ["early", "late"]
    assert [r.run_id for r in metastore.list_runs("etl")] == ["late", "done", "early"]
    assert [r.run_id for r in metastore.list_runs(limit=1)] == ["late"]
