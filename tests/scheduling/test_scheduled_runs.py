"""Time-based scheduling end to end: catchup, data intervals in the context, pausing, clearing."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import signal
from typing import Any

from harness import Home, Try, max_overlap, start_scheduler, stop, wait_for

from taskkit.metastore import RunRecord
from taskkit.scheduling.dag_processor import sync_dags_folder
from taskkit.scheduling.scheduler import Scheduler
from taskkit.states import RunState, RunType, State

UTC = dt.timezone.utc


def _hours_ago(hours: int) -> dt.datetime:
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(hours=hours)


def _lit(moment: dt.datetime) -> str:
    """A datetime as source code for a DAG file (the prelude imports datetime as dt)."""
    return f"dt.datetime.fromisoformat({moment.isoformat()!r})"


def _lines(home: Home) -> list[dict[str, Any]]:
    return [json.loads(line) for line in home.record.read_text(encoding="utf-8").splitlines()]


def _most_runs_at_once(runs: list[RunRecord]) -> int:
    spans = [
        Try(r.dag_id, r.run_id, "", 0, r.started_at.timestamp(), r.ended_at.timestamp())
        for r in runs
        if r.started_at is not None and r.ended_at is not None
    ]
    return max_overlap(spans)


def test_a_continuous_dag_runs_one_run_after_another_until_its_end_date(home: Home) -> None:
    """ "@continuous": one run at a time, the next as soon as the last ends, each covering the
    time since the last one's interval ended (the first from start_date), until end_date."""
    start = _hours_ago(2)
    end = dt.datetime.now(UTC) + dt.timedelta(seconds=3)
    home.write_dag(
        "always",
        f"""
        @dag(schedule="@continuous", start_date={_lit(start)}, end_date={_lit(end)})
        def always():
            @task
            def record(data_interval_start=None, ti=None):
                began = time.time()
                time.sleep(0.2)
                note(ti, began, dis=data_interval_start.isoformat())

            record()

        always()
        """,
    )
    home.sync()
    home.run_scheduler()  # exits once end_date has passed and the last run is done
    assert dt.datetime.now(UTC) > end
    runs = sorted(home.store.list_runs("always"), key=lambda r: r.logical_date)
    assert len(runs) >= 2
    assert all(r.run_type is RunType.SCHEDULED and r.state is RunState.SUCCESS for r in runs)
    assert runs[0].logical_date == start
    for before, after in itertools.pairwise(runs):
        assert after.logical_date == before.data_interval_end  # contiguous intervals
        assert before.ended_at is not None and after.started_at is not None
        assert after.started_at >= before.ended_at  # one at a time
    assert all(r.data_interval_end is not None and r.data_interval_end <= end for r in runs)
    seen = {line["run"]: line["dis"] for line in _lines(home)}
    assert seen == {r.run_id: r.logical_date.isoformat() for r in runs}


def test_catchup_creates_every_missed_interval_with_its_context(home: Home) -> None:
    """30 hours behind with catchup: 30 runs oldest first, each seeing its own data interval."""
    start = _hours_ago(30)
    home.write_dag(
        "hourly",
        f"""
        from taskkit import get_current_context

        @dag(schedule="@hourly", start_date={_lit(start)}, catchup=True, max_active_runs=3)
        def hourly():
            @task
            def record(ti=None):
                c = get_current_context()
                note(ti, time.time(), dis=c["data_interval_start"].isoformat(),
                     die=c["data_interval_end"].isoformat(), ds=c["ds"],
                     ds_nodash=c["ds_nodash"], ts=c["ts"])

            echo = BashOperator(
                task_id="echo",
                bash_command="echo '[{{{{ ds }}}}|{{{{ data_interval_end }}}}|{{{{ ts }}}}]'",
            )
            record() >> echo

        hourly()
        """,
    )
    home.sync()
    assert not home.store.get_dag("hourly").is_paused  # new DAGs start unpaused
    home.run_scheduler()
    runs = sorted(home.store.list_runs("hourly"), key=lambda r: r.logical_date)[:30]
    assert len(runs) == 30  # (31 if the hour turned while the test ran)
    assert all(r.run_type is RunType.SCHEDULED and r.state is RunState.SUCCESS for r in runs)
    assert [r.logical_date for r in runs] == [start + dt.timedelta(hours=i) for i in range(30)]
    assert all(r.data_interval_end == r.logical_date + dt.timedelta(hours=1) for r in runs)
    assert runs[0].run_id == f"scheduled__{start.isoformat()}"
    assert _most_runs_at_once(runs) <= 3
    seen = {line["run"]: line for line in _lines(home)}
    for run in runs:
        line = seen[run.run_id]
        begin = run.logical_date
        assert line["dis"] == begin.isoformat()
        assert line["die"] == (begin + dt.timedelta(hours=1)).isoformat()
        assert (line["ds"], line["ds_nodash"]) == (
            begin.strftime("%Y-%m-%d"),
            begin.strftime("%Y%m%d"),
        )
        assert line["ts"] == begin.isoformat()
    last = runs[-1]
    echoed = home.log_text("hourly", last.run_id, "echo", 1)
    # A template prints a datetime as Airflow 3 does (pendulum 3's str(): a space, no "T").
    end = last.logical_date + dt.timedelta(hours=1)
    assert f"[{last.logical_date:%Y-%m-%d}|{end}|{last.logical_date.isoformat()}]" in echoed
    dag = home.store.get_dag("hourly")
    assert dag.next_run is not None and dag.next_run >= start + dt.timedelta(hours=30)
    assert dag.next_run_after == dag.next_run + dt.timedelta(hours=1)


def test_without_catchup_only_the_latest_interval_runs_and_unpause_brings_no_burst(
    home: Home,
) -> None:
    """catchup=False: one run (the latest interval) even after long pauses; end_date stops runs."""
    start = _hours_ago(30)
    home.write_dag(
        "latest",
        f"""
        with DAG("latest", schedule="@hourly", start_date={_lit(start)}, catchup=False):
            EmptyOperator(task_id="noop")
        with DAG("ended", schedule="@hourly", start_date={_lit(start)}, catchup=True,
                 end_date={_lit(start + dt.timedelta(hours=2))}):
            EmptyOperator(task_id="noop")
        """,
    )
    home.overrides["core.dags_are_paused_at_creation"] = True
    home.sync()
    assert home.store.get_dag("latest").is_paused
    home.run_scheduler()
    assert home.store.list_runs() == []  # paused: nothing created
    home.store.set_paused("latest", False)
    home.store.set_paused("ended", False)
    home.run_scheduler()
    [run] = home.store.list_runs("latest")
    assert run.logical_date in (_hours_ago(1), _hours_ago(2))  # the hour may turn meanwhile
    assert run.state is RunState.SUCCESS
    ended = sorted(r.logical_date for r in home.store.list_runs("ended"))
    assert ended == [start + dt.timedelta(hours=h) for h in range(3)]
    assert home.store.get_dag("ended").next_run is None
    assert home.store.get_dag("latest").next_run == run.logical_date + dt.timedelta(hours=1)


def test_paused_dag_starts_nothing_new_and_lets_running_tries_finish(home: Home) -> None:
    """Pausing mid-run lets the running try finish but starts no task; unpausing resumes the run."""
    home.write_dag(
        "slow",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def slow():
            @task
            def first(ti=None):
                sleeper(ti, 0.6)

            @task
            def second(ti=None):
                sleeper(ti, 0.0)

            first() >> second()

        slow()
        """,
    )
    home.write_dag(
        "marker", 'with DAG("marker", schedule=None):\n    EmptyOperator(task_id="noop")\n'
    )
    home.sync()
    run = home.trigger("slow")
    process = start_scheduler(home, exit_when_idle=False)
    try:
        wait_for(lambda: home.tis("slow", run.run_id)["first"].state is State.RUNNING)
        home.store.set_paused("slow", True)
        wait_for(lambda: home.tis("slow", run.run_id)["first"].state is State.SUCCESS)
        # A marker run triggered now is seen by a refresh that also reads the pause, and runs
        # to its end over several steps: each would have started `second` had it been free.
        marker = home.trigger("marker")
        wait_for(lambda: home.run_state("marker", marker.run_id) is RunState.SUCCESS)
        assert home.tis("slow", run.run_id)["second"].state in (State.NONE, State.SCHEDULED)
        home.store.set_paused("slow", False)
        wait_for(lambda: home.run_state("slow", run.run_id) is RunState.SUCCESS)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        stop(process)


def test_exit_when_idle_counts_paused_dags_runs_as_idle(home: Home) -> None:
    """A queued run of a paused DAG does not keep `scheduler --exit-when-idle` waiting."""
    home.write_dag("held", 'with DAG("held", schedule=None):\n    EmptyOperator(task_id="noop")\n')
    home.sync()
    run = home.trigger("held")
    home.store.set_paused("held", True)
    summary = home.run_scheduler()
    assert summary.stopped_by == "idle"
    assert home.run_state("held", run.run_id) is RunState.QUEUED


def test_clearing_a_run_the_scheduler_holds_reruns_the_cleared_task(home: Home) -> None:
    """A task cleared while its run is running is rerun as a new try; the run then succeeds."""
    home.write_dag(
        "held_run",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def held_run():
            @task
            def quick(ti=None):
                note(ti, time.time())
                return ti.try_number

            @task
            def slow(ti=None):
                sleeper(ti, 1.0)

            quick()
            slow()

        held_run()
        """,
    )
    home.sync()
    run = home.trigger("held_run")
    process = start_scheduler(home, exit_when_idle=False)
    try:
        wait_for(lambda: home.tis("held_run", run.run_id)["quick"].state is State.SUCCESS)
        assert home.store.clear_task_instances("held_run", run.run_id, {"quick": 1}) == 1
        wait_for(lambda: home.run_state("held_run", run.run_id) is RunState.SUCCESS)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        stop(process)
    tis = home.tis("held_run", run.run_id)
    assert (tis["quick"].try_number, tis["quick"].max_tries) == (2, 2)
    assert tis["slow"].try_number == 1
    assert [t.try_number for t in home.tries("held_run") if t.task == "quick"] == [1, 2]


def test_bad_schedules_are_import_errors(home: Home) -> None:
    """Each bad schedule is an import error naming the DAG and the fix; good files still load."""
    bad = {
        "bad_cron": 'schedule="61 * * * *", start_date=dt.datetime(2026, 1, 1)',
        "bad_dates": (
            'schedule="@daily", start_date=dt.datetime(2026, 2, 1), '
            "end_date=dt.datetime(2026, 1, 1)"
        ),
        "bad_delta": "schedule=dt.timedelta(0), start_date=dt.datetime(2026, 1, 1)",
        "bad_preset": 'schedule="@fortnightly", start_date=dt.datetime(2026, 1, 1)',
    }
    for name, arguments in bad.items():
        home.write_dag(name, f'with DAG("{name}", {arguments}):\n    EmptyOperator(task_id="t")\n')
    home.write_dag("fine", 'with DAG("fine", schedule="@daily"):\n    EmptyOperator(task_id="t")\n')
    report = sync_dags_folder(home.store, home.settings(), home.key)
    assert report.saved == ("fine",)
    errors = {e.fileloc.rsplit("/", 1)[1]: e.message for e in home.store.list_import_errors()}
    assert set(errors) == {f"{name}.py" for name in bad}
    assert "not a valid 5-field cron expression" in errors["bad_cron.py"]
    assert "end_date" in errors["bad_dates.py"] and "before start_date" in errors["bad_dates.py"]
    assert "must be positive" in errors["bad_delta.py"]
    assert "unknown schedule preset '@fortnightly'" in errors["bad_preset.py"]
    assert all("DagDefinitionError" in m or "ScheduleError" in m for m in errors.values())


def test_the_scheduler_decides_with_the_clock_it_is_given(home: Home) -> None:
    """A scheduler whose clock says 2030-01-03 creates and runs the runs due by then, no more."""
    home.write_dag(
        "future",
        """
        @dag(schedule="@daily", start_date=dt.datetime(2030, 1, 1), catchup=True)
        def future():
            EmptyOperator(task_id="noop")

        future()
        """,
    )
    home.sync()
    assert home.run_scheduler().runs == []  # today, nothing of 2030 is due

    moment = dt.datetime(2030, 1, 3, 0, 30, tzinfo=UTC)
    Scheduler(home.settings(), exit_when_idle=True, clock=lambda: moment).run()

    runs = sorted(home.store.list_runs("future"), key=lambda r: r.logical_date)
    assert [r.logical_date.date() for r in runs] == [dt.date(2030, 1, 1), dt.date(2030, 1, 2)]
    assert all(r.state is RunState.SUCCESS for r in runs)
