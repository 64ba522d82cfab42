"""Schedules are checked when a DAG is defined: bad ones raise DagDefinitionError at once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from taskkit import DAG, Asset, AssetOrTimeSchedule
from taskkit.errors import DagDefinitionError, ScheduleError

START = dt.datetime(2026, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "61 * * * *"}, r"'61 \* \* \* \*' is not a valid 5-field cron"),
        ({"schedule": "* * * *"}, r"not a valid 5-field cron expression"),
        ({"schedule": "0 0 * * * *"}, r"not a valid 5-field cron expression"),
        ({"schedule": "@fortnightly"}, r"unknown schedule preset '@fortnightly'; use one of"),
        ({"schedule": dt.timedelta(0)}, r"timedelta schedule must be positive"),
        ({"schedule": dt.timedelta(hours=-1)}, r"timedelta schedule must be positive"),
        ({"schedule": 5}, r"schedule must be None, a preset, a cron string, a timedelta or "),
        (
            {"schedule": "@daily", "end_date": dt.datetime(2025, 12, 31)},
            r"end_date 2025-12-31 00:00:00 is before start_date",
        ),
        ({"schedule": "@daily", "start_date": dt.date(2026, 1, 1)}, r"must be a datetime"),
        ({"schedule": "@daily", "end_date": "2027-01-01"}, r"end_date must be a datetime"),
    ],
)
def test_bad_schedules_fail_at_definition_time(kwargs: dict[str, object], message: str) -> None:
    """Each bad schedule raises a ScheduleError (a DagDefinitionError) naming the DAG."""
    arguments = {"start_date": START, **kwargs}
    with pytest.raises(ScheduleError, match=message) as caught:
        DAG("bad", **arguments)  # type: ignore[arg-type]
    assert isinstance(caught.value, DagDefinitionError)
    assert "DAG 'bad'" in str(caught.value)


def test_a_continuous_dag_runs_one_run_at_a_time() -> None:
    """ "@continuous" sets max_active_runs to 1 and refuses more, naming the fix (Airflow
    refuses any max_active_runs above 1 too, its default 16 included)."""
    assert DAG("always", schedule="@continuous", start_date=START).max_active_runs == 1
    assert DAG("always", schedule="@continuous", max_active_runs=1).max_active_runs == 1
    with pytest.raises(DagDefinitionError, match=r"needs max_active_runs=1 \(got 3\)"):
        DAG("always", schedule="@continuous", start_date=START, max_active_runs=3)
    wrapped = AssetOrTimeSchedule(timetable="@continuous", assets=Asset("s3://bucket/orders"))
    with pytest.raises(ScheduleError, match="AssetOrTimeSchedule cannot run '@continuous'"):
        DAG("always", schedule=wrapped, start_date=START)


def test_good_schedules_are_kept_as_given() -> None:
    """Presets, cron strings, timedeltas, None and aware start dates in any zone are accepted."""
    zone = ZoneInfo("Asia/Kolkata")
    for schedule in [
        None,
        "@once",
        "@continuous",
        "@hourly",
        "@yearly",
        "30 2 * * 1-5",
        dt.timedelta(minutes=5),
    ]:
        dag = DAG("good", schedule=schedule, start_date=START.replace(tzinfo=zone))
        assert dag.schedule == schedule
    end = START.replace(tzinfo=zone) + dt.timedelta(days=1)
    aware_end = DAG("x", schedule="@daily", start_date=START, end_date=end)
    assert aware_end.end_date is not None
