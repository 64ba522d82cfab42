"""TimeSensor, TimeDeltaSensor, DateTimeSensor and DayOfWeekSensor."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import (
    DAG,
    DateTimeSensor,
    DayOfWeekSensor,
    State,
    TimeDeltaSensor,
    TimeSensor,
    WeekDay,
)
from taskkit.errors import InvalidTaskParameterError

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
MONDAY = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
#: Waits that end fast: a sensor whose moment has not come is skipped after 50 ms.
QUICK: dict[str, Any] = {"poke_interval": 0.01, "timeout": 0.05, "soft_fail": True}


def test_moments_in_the_past_are_done_and_future_ones_wait() -> None:
    """Each sensor is done at once when its moment has passed and keeps waiting otherwise."""
    far = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).isoformat()
    with DAG("d", schedule=None, start_date=START) as dag:
        TimeSensor(task_id="midnight", target_time=dt.time(0, 0), **QUICK)
        TimeDeltaSensor(task_id="hour_after", delta=dt.timedelta(hours=1), **QUICK)
        TimeDeltaSensor(task_id="minutes_after", delta=90, **QUICK)  # an int is minutes
        DateTimeSensor(task_id="templated", target_time="{{ logical_date }}", **QUICK)
        DateTimeSensor(task_id="future", target_time=far, **QUICK)
        DateTimeSensor(task_id="zulu", target_time="2026-01-01T00:00:00Z", **QUICK)

    result = dag.test(logical_date=MONDAY)
    assert result.task_states == {
        "midnight": State.SUCCESS,
        "hour_after": State.SUCCESS,
        "minutes_after": State.SUCCESS,
        "templated": State.SUCCESS,
        "future": State.SKIPPED,
        "zulu": State.SUCCESS,
    }


def test_time_delta_waits_from_the_data_interval_end() -> None:
    """A run whose interval ends tomorrow is not yet past its delta."""
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with DAG("d", schedule=None, start_date=START) as dag:
        TimeDeltaSensor(task_id="wait", delta=dt.timedelta(0), **QUICK)
    assert dag.test(logical_date=tomorrow).task_states == {"wait": State.SKIPPED}


def test_time_sensor_reads_today_in_the_dags_time_zone() -> None:
    """target_time is today's, on the clock of the DAG's start_date zone (its own tzinfo
    ignored, as Airflow 3.3's datetime.combine(..., dag.timezone) ignores it)."""
    plus_two = dt.timezone(dt.timedelta(hours=2))
    with DAG("d", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=plus_two)):
        sensor = TimeSensor(task_id="t", target_time=dt.time(1, 30))
        aware = TimeSensor(task_id="a", target_time=dt.time(1, 30, tzinfo=dt.timezone.utc))
    late_utc = dt.datetime(2026, 5, 1, 23, 0, tzinfo=dt.timezone.utc)  # 01:00 May 2 at +02:00
    assert sensor.target_datetime(late_utc) == dt.datetime(2026, 5, 2, 1, 30, tzinfo=plus_two)
    assert aware.target_datetime(late_utc) == dt.datetime(2026, 5, 2, 1, 30, tzinfo=plus_two)


def test_a_poke_mode_time_sensor_keeps_the_day_its_try_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A try that starts at 00:10 for 00:30 and is still poking after midnight is done
    (Airflow fixes the day when the try loads the DAG), not waiting for tomorrow's 00:30."""
    clock = iter(
        dt.datetime(2026, 3, day, 0, minute, tzinfo=dt.timezone.utc)
        for day, minute in [(1, 10), (1, 20), (2, 10), (2, 10)]
    )
    monkeypatch.setattr("taskkit.sensors.temporal._utcnow", lambda: next(clock))
    with DAG("d", schedule=None, start_date=START) as dag:
        TimeSensor(task_id="t", target_time=dt.time(0, 30), poke_interval=0.01, timeout=60)
    assert dag.test(logical_date=MONDAY).task_states == {"t": State.SUCCESS}


def test_day_of_week_checks_the_logical_date_or_today() -> None:
    """use_task_logical_date compares the run's weekday; names, WeekDay and sets all work."""
    with DAG("d", schedule=None, start_date=START) as dag:
        logical = {"use_task_logical_date": True, **QUICK}
        DayOfWeekSensor(task_id="monday", week_day="monday", **logical)
        DayOfWeekSensor(task_id="weekend", week_day={"Saturday", WeekDay.SUNDAY}, **logical)
        today = dt.datetime.now(dt.timezone.utc).isoweekday()
        DayOfWeekSensor(task_id="today", week_day=WeekDay(today), **QUICK)

    result = dag.test(logical_date=MONDAY)
    assert result.task_states == {
        "monday": State.SUCCESS,
        "weekend": State.SKIPPED,
        "today": State.SUCCESS,
    }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DayOfWeekSensor(task_id="s", week_day="Funday"), "'Funday' is not a day"),
        (lambda: DateTimeSensor(task_id="s", target_time="next tuesday"), "is not an ISO"),
        (lambda: TimeSensor(task_id="s", target_time="10:00"), "must be a datetime.time"),
        (lambda: TimeDeltaSensor(task_id="s", delta=1.5), "delta must be a timedelta"),
    ],
)
def test_bad_moments_fail_where_the_dag_is_defined(make: Any, message: str) -> None:
    """A day, time or date that cannot be read is one line naming the task."""
    with DAG("d", schedule=None, start_date=START), pytest.raises(InvalidTaskParameterError) as err:
        make()
    assert str(err.value).startswith("DAG 'd', task 's': ")
    assert message in str(err.value)
