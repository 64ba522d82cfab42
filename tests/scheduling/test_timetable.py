"""The timetable: schedule points, data intervals, catchup and DST, with `now` as a parameter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from timetables import due_run

from taskkit.errors import ScheduleError
from taskkit.scheduling import timetable
from taskkit.scheduling.timetable import PlannedRun, Timetable

UTC = dt.timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def points(table: Timetable, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every schedule point in (start, end], walking forward with point_after."""
    found, moment = [], start
    while (moment := table.point_after(moment)) <= end:
        found.append(moment)
    return found


def reference(
    expression: str, zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """The documented rule, by brute force over every minute in (start, end].

    A matching wall time fires at each instant showing it, except a repeated
    one (fold 1) unless the hour field is `*`; a matching wall time that
    does not exist fires when the clocks jump over it.
    """
    every_hour = expression.split()[1] == "*"
    found = set()
    minute = start.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while minute <= end:
        local = minute.astimezone(zone)
        naive = local.replace(tzinfo=None)
        before = (minute - dt.timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
        repeated = local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
        if croniter.match(expression, naive) and (every_hour or not repeated):
            found.add(minute)
        # A jump forward: wall times skipped between `before` and `naive` fire now.
        skipped = before + dt.timedelta(minutes=1)
        while skipped < naive:
            if croniter.match(expression, skipped):
                found.add(minute)
            skipped += dt.timedelta(minutes=1)
        minute += dt.timedelta(minutes=1)
    return sorted(found)


DST_DAYS = [
    pytest.param(AMS, utc(2026, 3, 28), id="amsterdam-spring"),
    pytest.param(AMS, utc(2026, 10, 24), id="amsterdam-fall"),
    pytest.param(NYC, utc(2026, 3, 7), id="new-york-spring"),
    pytest.param(NYC, utc(2026, 10, 31), id="new-york-fall"),
]


@pytest.mark.parametrize(("zone", "day"), DST_DAYS)
@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "*/30 * * * *", "0 2 * * *"])
def test_cron_points_follow_the_documented_dst_rule(
    zone: ZoneInfo, day: dt.datetime, expression: str
) -> None:
    """Around both DST changes the points are exactly the documented rule's, by brute force."""
    table = Timetable(expression, dt.datetime(2026, 1, 1, tzinfo=zone))
    start, end = day + 12 * H, day + 2 * D
    assert points(table, start, end) == reference(expression, zone, start, end)


@pytest.mark.parametrize(("zone", "day"), DST_DAYS)
def test_backward_steps_mirror_forward_steps(zone: ZoneInfo, day: dt.datetime) -> None:
    """point_at_or_before walks back through the same points point_after walks forward."""
    for expression in ["30 2 * * *", "0 * * * *"]:
        table = Timetable(expression, dt.datetime(2026, 1, 1, tzinfo=zone))
        forward = points(table, day, day + 3 * D)
        backward, moment = [], day + 3 * D
        while (found := table.point_at_or_before(moment)) is not None and found > day:
            backward.append(found)
            moment = found - dt.timedelta(microseconds=1)
        assert backward[::-1] == forward


def test_daily_0230_spring_forward_runs_once_at_the_jump() -> None:
    """On the spring-forward day a 02:30 schedule runs once, at 03:00 local, the clocks' jump."""
    table = Timetable("30 2 * * *", dt.datetime(2026, 3, 1, tzinfo=AMS), catchup=True)
    runs = table.runs_between(utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    local = [r.logical_date.astimezone(AMS).strftime("%d %H:%M%z") for r in runs]
    assert local == ["28 02:30+0100", "29 03:00+0200", "30 02:30+0200"]
    assert [r.data_interval_end for r in runs[:-1]] == [r.logical_date for r in runs[1:]]


def test_daily_0230_fall_back_runs_once_not_twice() -> None:
    """On the fall-back day 02:30 happens twice but the schedule runs once, at the first."""
    table = Timetable("30 2 * * *", dt.datetime(2026, 10, 1, tzinfo=AMS), catchup=True)
    runs = table.runs_between(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    local = [r.logical_date.astimezone(AMS).strftime("%d %H:%M%z") for r in runs]
    assert local == ["25 02:30+0200", "26 02:30+0100"]
    assert runs[0].data_interval_end - runs[0].logical_date == 25 * H


def test_hourly_runs_every_real_hour_across_both_changes() -> None:
    """Hourly runs tile real time: 23 runs on the spring day, 25 on the fall day, all 1 h long."""
    table = Timetable("@hourly", dt.datetime(2026, 1, 1, tzinfo=NYC), catchup=True)
    for day, expected in [((2026, 3, 8), 23), ((2026, 11, 1), 25)]:
        start = dt.datetime(*day, tzinfo=NYC)
        end = (start.replace(tzinfo=None) + D).replace(tzinfo=NYC)
        runs = table.runs_between(start, end - dt.timedelta(microseconds=1))
        assert len(runs) == expected
        assert all(r.data_interval_end - r.logical_date == H for r in runs)
        assert len({r.logical_date for r in runs}) == expected


def test_presets_are_local_wall_times() -> None:
    """@daily is midnight in the DAG's zone, so the UTC instant moves with DST."""
    table = Timetable("@daily", dt.datetime(2026, 3, 1, tzinfo=NYC))
    assert table.first_point() == utc(2026, 3, 1, 5)
    assert table.point_after(utc(2026, 3, 9)) == utc(2026, 3, 9, 4)


def test_naive_start_date_means_utc() -> None:
    """A naive start_date is UTC, and the daily point is UTC midnight."""
    table = Timetable("@daily", dt.datetime(2026, 1, 1, 10))
    assert table.first_point() == utc(2026, 1, 2)


def test_timedelta_schedules_are_absolute_durations() -> None:
    """A 1-day timedelta is 24 hours, even across DST, counted from start_date."""
    table = Timetable(D, dt.datetime(2026, 3, 28, 12, tzinfo=AMS))
    first = table.first_point()
    assert first == utc(2026, 3, 28, 11)
    assert table.point_after(first) == utc(2026, 3, 29, 11)
    assert table.point_after(utc(2026, 3, 30)) == utc(2026, 3, 30, 11)
    assert table.point_at_or_before(utc(2026, 3, 30)) == utc(2026, 3, 29, 11)
    assert table.point_at_or_before(utc(2026, 3, 1)) is None


def test_first_run_covers_the_first_whole_interval_and_waits_for_its_end() -> None:
    """The first run's interval starts at the first point at or after start_date; due at its end."""
    table = Timetable("@daily", utc(2026, 1, 1, 6), catchup=True)
    expected = PlannedRun(utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 3))
    assert table.next_run(None, utc(2026, 1, 2, 12)) == expected
    assert due_run(table, None, utc(2026, 1, 2, 23, 59)) is None
    assert due_run(table, None, utc(2026, 1, 3)) == expected
    assert expected.run_id == "scheduled__2026-01-02T00:00:00+00:00"


def test_catchup_walks_every_interval_oldest_first() -> None:
    """With catchup each call gives the interval right after the last one, oldest first."""
    table = Timetable("@daily", utc(2026, 1, 1), catchup=True)
    now, last, seen = utc(2026, 1, 5, 12), None, []
    while (run := due_run(table, last, now)) is not None:
        seen.append(run.logical_date.day)
        last = run.logical_date
    assert seen == [1, 2, 3, 4]


def test_without_catchup_only_the_latest_ended_interval_runs() -> None:
    """Without catchup a DAG behind by days gets only the latest interval that has ended."""
    table = Timetable("@daily", utc(2026, 1, 1), catchup=False)
    now = utc(2026, 1, 5, 12)
    assert due_run(table, None, now) == PlannedRun(
        utc(2026, 1, 4), utc(2026, 1, 5), utc(2026, 1, 5)
    )
    assert due_run(table, utc(2026, 1, 1), now).logical_date == utc(2026, 1, 4)  # type: ignore[union-attr]
    assert due_run(table, utc(2026, 1, 4), now) is None
    assert table.next_run(utc(2026, 1, 4), now).run_after == utc(2026, 1, 6)  # type: ignore[union-attr]


def test_without_catchup_a_hundred_years_behind_is_cheap() -> None:
    """Skipping to the latest interval does not walk the skipped ones (hourly, decades behind)."""
    table = Timetable("@hourly", utc(1970, 1, 1))
    run = due_run(table, None, utc(2070, 1, 1, 0, 30))
    assert run is not None and run.logical_date == utc(2069, 12, 31, 23)


def test_end_date_stops_new_runs() -> None:
    """No run starts after end_date; without catchup the last one is the latest before it."""
    table = Timetable("@daily", utc(2026, 1, 1), utc(2026, 1, 3), catchup=True)
    assert due_run(table, utc(2026, 1, 2), utc(2027, 1, 1)).logical_date == utc(2026, 1, 3)  # type: ignore[union-attr]
    assert due_run(table, utc(2026, 1, 3), utc(2027, 1, 1)) is None
    no_catchup = Timetable("@daily", utc(2026, 1, 1), utc(2026, 1, 3))
    assert due_run(no_catchup, None, utc(2027, 1, 1)).logical_date == utc(2026, 1, 3)  # type: ignore[union-attr]
    assert due_run(no_catchup, utc(2026, 1, 3), utc(2027, 1, 1)) is None


def test_once_runs_once_at_start_date() -> None:
    """@once makes one run at start_date, once start_date has passed."""
    table = Timetable("@once", utc(2026, 1, 1, 9))
    assert due_run(table, None, utc(2026, 1, 1, 8)) is None
    run = due_run(table, None, utc(2026, 1, 1, 9))
    assert run == PlannedRun(utc(2026, 1, 1, 9), utc(2026, 1, 1, 9), utc(2026, 1, 1, 9))
    assert table.next_run(run.logical_date, utc(2030, 1, 1)) is None


def test_no_schedule_or_no_start_date_never_runs() -> None:
    """schedule=None (manual only) and a schedule without start_date produce no runs."""
    assert Timetable(None, utc(2026, 1, 1)).next_run(None, utc(2030, 1, 1)) is None
    assert Timetable("@daily", None).next_run(None, utc(2030, 1, 1)) is None


def test_continuous_runs_cover_the_time_since_the_last_run_and_are_due_at_once() -> None:
    """ "@continuous" as Airflow's ContinuousTimetable: the first run from start_date to now,
    each next one from the last one's interval end to now; none past end_date; no backfill."""
    now = utc(2026, 5, 4, 8, 30)
    table = Timetable("@continuous", utc(2026, 5, 1), end_date=utc(2026, 5, 5))
    assert table.next_run(None, now) == PlannedRun(utc(2026, 5, 1), now, now)
    last_end = utc(2026, 5, 4, 8, 29)
    assert table.next_run(utc(2026, 5, 4, 8), now, last_end=last_end) == PlannedRun(
        last_end, now, now
    )
    assert table.next_run(utc(2026, 5, 4, 8), utc(2026, 5, 5, 0, 1), last_end=last_end) is None
    # A start_date ahead: the first run waits for it.
    ahead = Timetable("@continuous", utc(2026, 6, 1))
    assert ahead.next_run(None, now) == PlannedRun(
        utc(2026, 6, 1), utc(2026, 6, 1), utc(2026, 6, 1)
    )
    # No start_date: from now (Airflow 3 needs none here).
    assert Timetable("@continuous", None).next_run(None, now) == PlannedRun(now, now, now)
    with pytest.raises(ScheduleError, match="no intervals to backfill"):
        table.runs_between(utc(2026, 5, 1), utc(2026, 5, 2))
    assert table.manual_interval(now) == (now, now)
    assert table.following(utc(2026, 5, 4)) is None  # LatestOnlyOperator proceeds
    assert table.previous_point(utc(2026, 5, 4)) is None


def test_previous_point_is_airflow_2s_prev_execution_date() -> None:
    """Only schedules of data intervals have a point before a run: a cron's last point
    strictly before its logical date (on the start_date's wall clock), a delta before it."""
    from taskkit import (
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        DeltaDataIntervalTimetable,
    )

    monday = utc(2026, 5, 4, 8)
    weekdays = Timetable("0 8 * * 1-5", utc(2026, 1, 1))
    assert weekdays.previous_point(monday) == utc(2026, 5, 1, 8)  # the Friday before
    assert weekdays.previous_point(monday + H) == monday  # off a point: the last one
    assert Timetable("@daily", dt.datetime(2026, 1, 1, tzinfo=AMS)).previous_point(
        utc(2026, 5, 4, 22)
    ) == utc(2026, 5, 3, 22)  # Amsterdam's midnight, in summer time
    assert Timetable(D, utc(2026, 1, 1)).previous_point(monday) == monday - D
    table = CronDataIntervalTimetable("0 8 * * 1-5", timezone="UTC")
    assert Timetable(table, utc(2026, 1, 1)).previous_point(monday) == utc(2026, 5, 1, 8)
    delta = DeltaDataIntervalTimetable(dt.timedelta(hours=6))
    assert Timetable(delta, utc(2026, 1, 1)).previous_point(monday) == monday - 6 * H
    for schedule in (None, "@once", CronTriggerTimetable("@daily", timezone="UTC")):
        assert Timetable(schedule, utc(2026, 1, 1)).previous_point(monday) is None


def test_runs_between_is_inclusive_and_clipped_to_start_and_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backfill ranges include both ends and never reach before start_date or past end_date."""
    table = Timetable("@daily", utc(2026, 1, 3), utc(2026, 1, 6))
    runs = table.runs_between(utc(2026, 1, 1), utc(2026, 1, 10))
    assert [r.logical_date.day for r in runs] == [3, 4, 5, 6]
    assert [r.logical_date.day for r in table.runs_between(utc(2026, 1, 4), utc(2026, 1, 5))] == [
        4,
        5,
    ]
    with pytest.raises(ScheduleError, match="no schedule"):
        Timetable(None, utc(2026, 1, 1)).runs_between(utc(2026, 1, 1), utc(2026, 1, 2))
    monkeypatch.setattr(timetable, "MAX_RUNS_BETWEEN", 50)
    with pytest.raises(ScheduleError, match="shorter range"):
        Timetable("* * * * *", utc(2026, 1, 1)).runs_between(utc(2026, 1, 1), utc(2026, 2, 1))
