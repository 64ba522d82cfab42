"""Airflow's timetable objects: next runs, data intervals, catchup and backfill ranges (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from timetables import due_run

from taskkit import (
    DAG,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    EventsTimetable,
    MultipleCronTriggerTimetable,
)
from taskkit.scheduling.timetable import PlannedRun, Timetable

UTC = dt.timezone.utc
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def run(start: dt.datetime, end: dt.datetime | None = None) -> PlannedRun:
    end = start if end is None else end
    return PlannedRun(start, end, end)


def test_cron_trigger_runs_at_each_point_with_the_interval_before_it() -> None:
    table = CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=H)
    timetable = Timetable(table, at(1), catchup=True)
    # First run: the first point at or after start_date; due at the point, not a day later.
    assert timetable.next_run(None, at(1)) == run(at(1, 1), at(1, 2))
    assert timetable.next_run(at(1, 1), at(1)) == run(at(2, 1), at(2, 2))
    assert due_run(timetable, None, at(1, 1, 59)) is None
    assert due_run(timetable, None, at(1, 2)) == run(at(1, 1), at(1, 2))


def test_cron_trigger_without_catchup_runs_the_latest_point_and_skips_missed_ones() -> None:
    timetable = Timetable(CronTriggerTimetable("0 * * * *"), at(1), catchup=False)
    # Unpaused at 10:30 after days: only the 10:00 point runs, now.
    assert timetable.next_run(None, at(5, 10, 30)) == run(at(5, 10))
    assert timetable.next_run(at(2), at(5, 10, 30)) == run(at(5, 10))
    # Up to date: the next point.
    assert timetable.next_run(at(5, 10), at(5, 10, 30)) == run(at(5, 11))


def test_cron_trigger_follows_its_timezone_across_dst() -> None:
    table = CronTriggerTimetable("0 9 * * *", timezone="Europe/Amsterdam")
    timetable = Timetable(table, at(28), catchup=True)
    before = timetable.next_run(None, at(28))
    after = timetable.next_run(at(29, 8), at(28))
    assert before == run(at(28, 8))  # 09:00 CET (UTC+1)
    assert after == run(at(30, 7))  # 09:00 CEST (UTC+2) after the 29 March change


@pytest.mark.parametrize(
    ("run_immediately", "now", "expected"),
    [
        (True, at(5, 10, 50), at(5, 10)),  # always the latest past point
        (False, at(5, 10, 4), at(5, 10)),  # within 10% of the gap (min 5 min): that point
        (False, at(5, 10, 50), at(5, 11)),  # later: wait for the next point
        (dt.timedelta(minutes=55), at(5, 10, 50), at(5, 10)),  # within the given buffer
        (dt.timedelta(minutes=5), at(5, 10, 50), at(5, 11)),
    ],
)
def test_run_immediately_picks_the_first_run_of_a_dag_without_start_date(
    run_immediately: bool | dt.timedelta, now: dt.datetime, expected: dt.datetime
) -> None:
    table = CronTriggerTimetable("0 * * * *", timezone="UTC", run_immediately=run_immediately)
    assert Timetable(table, None).next_run(None, now) == run(expected)


def test_cron_data_interval_runs_after_the_interval_with_its_start_as_logical_date() -> None:
    table = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
    caught_up = Timetable(table, at(1), catchup=True)
    assert caught_up.next_run(None, at(9)) == run(at(1), at(2))
    assert caught_up.next_run(at(1), at(9)) == run(at(2), at(3))
    latest = Timetable(table, at(1), catchup=False)
    assert latest.next_run(None, at(9, 12)) == run(at(8), at(9))  # the latest ENDED interval
    assert latest.next_run(at(8), at(9, 12)) == run(at(9), at(10))


def test_delta_trigger_runs_every_delta_and_now_when_behind() -> None:
    table = DeltaTriggerTimetable(6 * H, interval=2 * H)
    caught_up = Timetable(table, at(1), catchup=True)
    assert caught_up.next_run(None, at(9)) == run(at(1) - 2 * H, at(1))
    assert caught_up.next_run(at(1, 4), at(9)) == run(at(1, 10), at(1, 12))
    # Without catchup a late DAG runs now (a delta has no grid to align to), as Airflow.
    behind = Timetable(table, at(1), catchup=False)
    assert behind.next_run(None, at(9, 3, 7)) == run(at(9, 1, 7), at(9, 3, 7))
    assert behind.next_run(at(9, 1, 7), at(9, 3, 8)) == run(at(9, 7, 7), at(9, 9, 7))


def test_delta_data_interval_covers_the_delta_before_the_run() -> None:
    table = DeltaDataIntervalTimetable(12 * H)
    caught_up = Timetable(table, at(1, 5), catchup=True)
    assert caught_up.next_run(None, at(9)) == run(at(1, 5), at(1, 17))
    assert caught_up.next_run(at(1, 5), at(9)) == run(at(1, 17), at(2, 5))
    # Without catchup: the latest ended interval on the delta's grid from the epoch.
    latest = Timetable(table, at(1, 5), catchup=False)
    assert latest.next_run(None, at(9, 13)) == run(at(9), at(9, 12))


def test_multiple_cron_trigger_fires_for_each_cron_once_per_instant() -> None:
    table = MultipleCronTriggerTimetable("0 6 * * *", "30 18 * * *", "0 6 * * 1")
    timetable = Timetable(table, at(1), catchup=True)
    points, last = [], None
    for _ in range(5):
        planned = timetable.next_run(last, at(1))
        assert planned is not None
        points.append(planned.logical_date)
        last = planned.logical_date
    # 2 March 2026 is a Monday: its 06:00 comes once although two crons name it.
    assert points == [at(1, 6), at(1, 18, 30), at(2, 6), at(2, 18, 30), at(3, 6)]
    latest = Timetable(table, at(1), catchup=False)
    assert latest.next_run(None, at(4, 20)) == run(at(4, 18, 30))
    assert latest.next_run(at(4, 18, 30), at(4, 20)) == run(at(5, 6))


def test_events_run_at_each_listed_date_once() -> None:
    events = [at(20), at(3, 12), at(10), at(3, 12)]  # unsorted, one duplicate
    table = EventsTimetable(events, description="matches")
    caught_up = Timetable(table, at(1), catchup=True)
    assert [r.logical_date for r in caught_up.runs_between(at(1), at(31))] == [
        at(3, 12),
        at(10),
        at(20),
    ]
    # Without catchup, events already past when planned are skipped.
    latest = Timetable(table, at(1), catchup=False)
    assert latest.next_run(None, at(5)) == run(at(10))
    assert latest.next_run(at(20), at(21)) is None
    assert Timetable(table, at(1), end_date=at(15), catchup=True).next_run(at(10), at(5)) is None
    assert table.summary == "matches"


def test_backfill_ranges_of_trigger_timetables_hold_their_points() -> None:
    timetable = Timetable(CronTriggerTimetable("0 0 * * *", interval=D), at(1))
    runs = timetable.runs_between(at(3), at(5))
    assert [(r.logical_date, r.data_interval_end) for r in runs] == [
        (at(2), at(3)),
        (at(3), at(4)),
        (at(4), at(5)),
    ]


def test_end_date_stops_a_trigger_timetable() -> None:
    timetable = Timetable(CronTriggerTimetable("0 0 * * *"), at(1), end_date=at(2), catchup=True)
    assert timetable.next_run(at(1), at(9)) == run(at(2))
    assert timetable.next_run(at(2), at(9)) is None


def test_following_is_the_next_run_whatever_the_dates() -> None:
    assert Timetable(CronTriggerTimetable("0 0 * * *"), None).following(at(2)) == run(at(3))
    assert Timetable("@daily", at(1)).following(at(2)) == run(at(3), at(4))
    assert Timetable(EventsTimetable([at(2)]), None).following(at(2)) is None
    assert Timetable(None, None).following(at(2)) is None


def test_relativedelta_months_step_on_the_calendar_as_airflow() -> None:
    """relativedelta(months=1) runs monthly, clamping day 31 as dateutil does (path-dependent)."""
    start = dt.datetime(2026, 1, 31, tzinfo=UTC)
    monthly = Timetable(DeltaDataIntervalTimetable(relativedelta(months=1)), start, catchup=True)
    first = monthly.next_run(None, at(1))
    assert first == run(start, dt.datetime(2026, 2, 28, tzinfo=UTC))
    second = monthly.next_run(first.logical_date, at(1)) if first else None
    assert second == run(dt.datetime(2026, 2, 28, tzinfo=UTC), at(28))
    # Without catchup: step from start_date to the latest ended month (Airflow's _round).
    latest = Timetable(DeltaDataIntervalTimetable(relativedelta(months=1)), start, catchup=False)
    june = dt.datetime(2026, 6, 15, tzinfo=UTC)
    assert latest.next_run(None, june) == run(
        dt.datetime(2026, 4, 28, tzinfo=UTC), dt.datetime(2026, 5, 28, tzinfo=UTC)
    )
    trigger = Timetable(DeltaTriggerTimetable(relativedelta(months=1)), at(2), catchup=True)
    assert trigger.next_run(at(2), at(2)) == run(dt.datetime(2026, 4, 2, tzinfo=UTC))


def test_a_relativedelta_schedule_is_a_delta_data_interval_timetable() -> None:
    """`schedule=relativedelta(...)` means DeltaDataIntervalTimetable, as in Airflow."""
    dag = DAG("monthly", schedule=relativedelta(months=1), start_date=at(1))
    assert dag.schedule == DeltaDataIntervalTimetable(relativedelta(months=1))
    # Days-only relativedeltas round on the epoch grid like a timedelta of that length.
    days = Timetable(DeltaDataIntervalTimetable(relativedelta(days=1)), at(1), catchup=False)
    assert days.next_run(None, at(9, 13)) == run(at(8), at(9))


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # The last complete interval before the logical date (01:00 on the 25th: the 24th).
        (CronDataIntervalTimetable("0 0 * * *"), (at(24), at(25))),
        ("@daily", (at(24), at(25))),
        (DeltaDataIntervalTimetable(6 * H), (at(24, 19), at(25, 1))),
        (DeltaDataIntervalTimetable(relativedelta(months=1)), (at(25, 1) - 28 * D, at(25, 1))),
        (dt.timedelta(hours=6), (at(24, 19), at(25, 1))),
        # Trigger timetables: the `interval` before the logical date.
        (CronTriggerTimetable("0 0 * * *", interval=2 * H), (at(24, 23), at(25, 1))),
        (DeltaTriggerTimetable(D), (at(25, 1), at(25, 1))),
        (MultipleCronTriggerTimetable("0 1 * * *", "0 2 * * *", interval=H), (at(25), at(25, 1))),
        (EventsTimetable([at(20), at(30)], restrict_to_events=True), (at(20), at(20))),
        (None, (at(25, 1), at(25, 1))),
        ("@once", (at(25, 1), at(25, 1))),
    ],
)
def test_a_manual_run_gets_the_data_interval_airflow_infers(
    schedule: object, expected: tuple[dt.datetime, dt.datetime]
) -> None:
    timetable = Timetable(schedule, at(1))  # type: ignore[arg-type]  # every kind of schedule
    assert timetable.manual_interval(at(25, 1)) == expected
