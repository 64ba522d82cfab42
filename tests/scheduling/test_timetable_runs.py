"""Timetable objects drive the real scheduler: the runs, their logical dates and intervals."""

from __future__ import annotations

import datetime as dt
import json

from harness import Home

from taskkit.states import RunState, RunType, State

UTC = dt.timezone.utc


def test_scheduler_creates_the_runs_of_events_and_cron_trigger_timetables(home: Home) -> None:
    """`scheduler --exit-when-idle` runs each past event once, each cron point with its interval."""
    hour = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    events = [hour - dt.timedelta(hours=h) for h in (5, 3, 3, 1)]  # one duplicate
    home.write_dag(
        "timetables",
        f"""
        from taskkit import CronTriggerTimetable, EventsTimetable, get_current_context

        EVENTS = [dt.datetime.fromisoformat(e) for e in {[e.isoformat() for e in events]!r}]

        @dag(schedule=EventsTimetable(EVENTS), start_date=EVENTS[0], catchup=True)
        def matches():
            @task
            def record(ti=None):
                c = get_current_context()
                note(ti, time.time(), dis=c["data_interval_start"].isoformat(),
                     die=c["data_interval_end"].isoformat())
            record()

        @dag(
            schedule=CronTriggerTimetable("0 * * * *", timezone="UTC",
                                          interval=dt.timedelta(minutes=30)),
            start_date=EVENTS[0] - dt.timedelta(minutes=1), catchup=True,
        )
        def hourly():
            @task
            def record(ti=None):
                c = get_current_context()
                note(ti, time.time(), dis=c["data_interval_start"].isoformat(),
                     die=c["data_interval_end"].isoformat())
            record()

        matches()
        hourly()
        """,
    )
    home.sync()
    summary = home.run_scheduler()
    assert summary.stopped_by == "idle"
    matches = sorted(home.store.list_runs("matches"), key=lambda r: r.logical_date)
    assert [r.logical_date for r in matches] == sorted(set(events))
    assert all(r.run_type is RunType.SCHEDULED and r.state is RunState.SUCCESS for r in matches)
    assert all(r.data_interval_start == r.data_interval_end == r.logical_date for r in matches)
    hourly = sorted(home.store.list_runs("hourly"), key=lambda r: r.logical_date)
    points = [hour - dt.timedelta(hours=h) for h in (5, 4, 3, 2, 1, 0)]
    ends = [r.data_interval_end for r in hourly]
    assert ends[:6] == points  # (one more if the hour turned while the test ran)
    assert all(r.logical_date == r.data_interval_end - dt.timedelta(minutes=30) for r in hourly)
    assert all(r.state is RunState.SUCCESS for r in hourly)
    seen = {
        line["run"]: line
        for line in map(json.loads, home.record.read_text(encoding="utf-8").splitlines())
    }
    first = seen[hourly[0].run_id]
    assert (first["dis"], first["die"]) == (
        (points[0] - dt.timedelta(minutes=30)).isoformat(),
        points[0].isoformat(),
    )
    next_run = home.store.get_dag("hourly").next_run_after
    assert next_run is not None and next_run > hour


def test_latest_only_skips_caught_up_runs_under_the_scheduler(home: Home) -> None:
    """With catchup, only the newest interval's downstream work runs; manual runs always do."""
    start = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start -= dt.timedelta(hours=3)
    home.write_dag(
        "latest",
        f"""
        from taskkit import LatestOnlyOperator

        with DAG("latest", schedule="@hourly", catchup=True,
                 start_date=dt.datetime.fromisoformat({start.isoformat()!r})):
            LatestOnlyOperator(task_id="latest_only") >> EmptyOperator(task_id="work")
        """,
    )
    home.sync()
    home.run_scheduler()
    runs = sorted(home.store.list_runs("latest"), key=lambda r: r.logical_date)
    assert len(runs) >= 3 and all(r.state is RunState.SUCCESS for r in runs)
    work = [home.tis("latest", r.run_id)["work"].state for r in runs]
    assert work[-1] is State.SUCCESS
    assert work[:-2] == [State.SKIPPED] * (len(runs) - 2)
    manual = home.trigger("latest", "manual__old")  # an old logical date, but asked for
    home.run_scheduler()
    assert home.tis("latest", manual.run_id)["work"].state is State.SUCCESS


def test_monthly_relativedelta_runs_and_triggered_runs_get_airflow_intervals(home: Home) -> None:
    """schedule=relativedelta(months=1) catches up month by month; a run that
    TriggerDagRunOperator creates gets the month before its logical date."""
    now = dt.datetime.now(UTC)
    start = dt.datetime(now.year - 1, now.month, 1, tzinfo=UTC)
    home.write_dag(
        "monthly",
        f"""
        from dateutil.relativedelta import relativedelta
        from taskkit import TriggerDagRunOperator

        with DAG("monthly", schedule=relativedelta(months=1), catchup=True,
                 start_date=dt.datetime.fromisoformat({start.isoformat()!r})):
            EmptyOperator(task_id="t")

        with DAG("kick", schedule=None):
            TriggerDagRunOperator(task_id="go", trigger_dag_id="monthly",
                                  trigger_run_id="kicked", logical_date="2026-03-15T00:00:00")
        """,
    )
    home.sync()
    home.trigger("kick", "k1")
    home.run_scheduler()
    runs = home.store.list_runs("monthly")
    scheduled = sorted(
        (r for r in runs if r.run_type is RunType.SCHEDULED), key=lambda r: r.logical_date
    )
    assert len(scheduled) == 12  # each month of the past year, none for the current one
    assert [(r.logical_date.month, r.logical_date.day) for r in scheduled][:2] == [
        (start.month, 1),
        (start.month % 12 + 1, 1),
    ]
    assert all(r.data_interval_end.day == 1 for r in scheduled if r.data_interval_end)
    kicked = home.store.get_run("monthly", "kicked")
    assert (kicked.data_interval_start, kicked.data_interval_end) == (
        dt.datetime(2026, 2, 15, tzinfo=UTC),
        dt.datetime(2026, 3, 15, tzinfo=UTC),
    )
    assert kicked.state is RunState.SUCCESS
