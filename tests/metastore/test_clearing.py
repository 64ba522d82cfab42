"""Clearing task instances, one run per interval, and the scheduler's cheap reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from taskkit.errors import DuplicateRunError, RunNotFoundError
from taskkit.metastore import UNSET, Metastore, RunRecord, TIChange
from taskkit.metastore.records import XComWrite
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.states import RunState, RunType, State

MakeRun = Callable[..., RunRecord]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _move(store: Metastore, task_id: str, *states: State) -> None:
    """Walk one TI of run r1 through `states`, as the scheduler would."""
    key, previous = TaskInstanceKey("etl", "r1", task_id), State.NONE
    for state in states:
        tries = 1 if state is State.QUEUED else UNSET
        change = TIChange(key, expected=previous, state=state, try_number=tries)
        assert store.transition_task_instances([change]) == [True]
        previous = state


def test_clear_resets_finished_tis_keeps_running_ones_and_requeues_the_run(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Finished TIs go to none with more tries and no XComs; a running one is left alone."""
    make_run("r1", [TaskSpec("a"), TaskSpec("b"), TaskSpec("c")])
    for task_id in ("a", "b"):
        _move(metastore, task_id, State.SCHEDULED, State.QUEUED, State.RUNNING, State.FAILED)
    _move(metastore, "c", State.SCHEDULED, State.QUEUED, State.RUNNING)
    metastore.transition_task_instances(
        [], [XComWrite(TaskInstanceKey("etl", "r1", "a"), "return_value", b"1", "json")]
    )
    metastore.set_run_state("etl", "r1", RunState.FAILED)
    assert metastore.clear_task_instances("etl", "r1", {"a": 3, "c": 1}) == 1
    tis = {ti.task_id: ti for ti in metastore.list_task_instances("etl", "r1")}
    assert (tis["a"].state, tis["a"].try_number, tis["a"].max_tries) == (State.NONE, 1, 4)
    assert tis["a"].ended_at is None and tis["a"].error is None
    assert tis["b"].state is State.FAILED  # not asked for
    assert tis["c"].state is State.RUNNING  # its try is under way
    assert metastore.get_xcoms("etl", "r1") == []
    run = metastore.get_run("etl", "r1")
    assert (run.state, run.ended_at) == (RunState.QUEUED, None)


def test_clear_of_nothing_leaves_the_run_and_unknown_runs_are_errors(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Clearing only running TIs changes nothing; an unknown run raises RunNotFoundError."""
    make_run("r1", [TaskSpec("c")])
    _move(metastore, "c", State.SCHEDULED, State.QUEUED, State.RUNNING)
    metastore.set_run_state("etl", "r1", RunState.RUNNING)
    assert metastore.clear_task_instances("etl", "r1", {"c": 1}) == 0
    assert metastore.get_run("etl", "r1").state is RunState.RUNNING
    with pytest.raises(RunNotFoundError, match="nope"):
        metastore.clear_task_instances("etl", "nope", {"c": 1})


def test_one_scheduled_or_backfill_run_per_interval(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """A backfill and a scheduled run never share an interval; manual runs may."""
    make_run("scheduled__x", run_type=RunType.SCHEDULED)
    with pytest.raises(DuplicateRunError, match="scheduled__x"):
        make_run("backfill__x", run_type=RunType.BACKFILL)
    make_run("manual__x")
    found = metastore.find_interval_runs("etl", [T0, T0 + dt.timedelta(days=1)])
    assert list(found) == [T0] and found[T0].run_id == "scheduled__x"
    assert metastore.latest_scheduled_dates() == {"etl": T0}


def test_dag_flags_and_next_run(metastore: Metastore) -> None:
    """list_dag_flags reads the scheduler's few columns; set_next_run stores both times."""
    metastore.save_dag_version("etl", "/dags/etl.py", b"p", "h", "s", max_active_runs=2)
    metastore.set_paused("etl", True)
    [flags] = metastore.list_dag_flags()
    assert (flags.dag_id, flags.is_paused, flags.max_active_runs) == ("etl", True, 2)
    metastore.set_next_run("etl", T0, T0 + dt.timedelta(days=1))
    dag = metastore.get_dag("etl")
    assert (dag.next_run, dag.next_run_after) == (T0, T0 + dt.timedelta(days=1))


def test_dag_flags_changed_since_reads_only_rows_stamped_since(metastore: Metastore) -> None:
    """The scheduler's incremental refresh: only DAGs saved, paused or deactivated since."""
    metastore.save_dag_version("etl", "/dags/etl.py", b"p", "h", "s")
    metastore.save_dag_version("report", "/dags/report.py", b"p", "h2", "s")
    since = dt.datetime.now(dt.timezone.utc)
    metastore.set_paused("report", True)

    assert [f.dag_id for f in metastore.list_dag_flags(changed_since=since)] == ["report"]
    assert [f.dag_id for f in metastore.list_dag_flags()] == ["etl", "report"]
