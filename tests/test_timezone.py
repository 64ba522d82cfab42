"""taskkit.timezone as Airflow's `airflow.utils.timezone`, and datetime subclasses (pendulum's)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from taskkit import DAG, task, timezone
from taskkit.scheduling.timetable import Timetable

UTC = dt.timezone.utc
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class DateTime(dt.datetime):
    """Stands in for pendulum.DateTime, a datetime subclass (pendulum is not a dependency)."""


def test_utcnow_and_datetime_are_aware_utc() -> None:
    """utcnow() and datetime(...) are in UTC unless told otherwise."""
    assert timezone.utcnow().tzinfo is UTC
    assert timezone.datetime(2026, 1, 2, 3) == dt.datetime(2026, 1, 2, 3, tzinfo=UTC)
    here = timezone.datetime(2026, 1, 2, tzinfo=AMSTERDAM)
    assert here.utcoffset() == dt.timedelta(hours=1)


def test_days_ago_is_a_utc_midnight_n_days_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 2's days_ago(n): today's UTC midnight (or the given time) minus n days."""
    monkeypatch.setattr(timezone, "utcnow", lambda: dt.datetime(2026, 3, 1, 17, 5, 9, 7, UTC))
    assert timezone.days_ago(1) == dt.datetime(2026, 2, 28, tzinfo=UTC)
    assert timezone.days_ago(0, hour=6, minute=30) == dt.datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    assert timezone.days_ago(-1) == dt.datetime(2026, 3, 2, tzinfo=UTC)


def test_parse_reads_iso_strings_as_aware_datetimes() -> None:
    """Z and offsets are kept; a string without one is read in the given zone, default UTC."""
    assert timezone.parse("2026-03-01T06:00:00Z") == dt.datetime(2026, 3, 1, 6, tzinfo=UTC)
    assert timezone.parse("2026-03-01").tzinfo is UTC
    assert timezone.parse("2026-03-01 06:00", timezone=AMSTERDAM).utcoffset() == dt.timedelta(
        hours=1
    )
    with pytest.raises(ValueError, match="use ISO 8601"):
        timezone.parse("yesterday")


def test_convert_to_utc_and_friends() -> None:
    """convert_to_utc moves aware values to UTC and takes naive ones as UTC; None stays None."""
    noon_here = dt.datetime(2026, 7, 1, 12, tzinfo=AMSTERDAM)
    assert timezone.convert_to_utc(noon_here) == dt.datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert timezone.convert_to_utc(dt.datetime(2026, 7, 1)) == dt.datetime(2026, 7, 1, tzinfo=UTC)
    assert timezone.convert_to_utc(None) is None
    assert timezone.is_naive(dt.datetime(2026, 1, 1))
    assert timezone.is_localized(noon_here)
    assert timezone.make_naive(noon_here) == dt.datetime(2026, 7, 1, 10)
    with pytest.raises(ValueError, match="naive"):
        timezone.make_naive(dt.datetime(2026, 1, 1))


def test_a_datetime_subclass_works_as_start_date_and_logical_date() -> None:
    """DAG(start_date=<aware datetime subclass>) schedules in its zone and runs under DAG.test()."""
    start = DateTime(2026, 3, 28, tzinfo=AMSTERDAM)
    with DAG("zoned", start_date=start, schedule="0 6 * * *") as dag:

        @task
        def when(logical_date: dt.datetime | None = None) -> str:
            assert logical_date is not None
            return logical_date.isoformat()

        when()
    result = dag.test(logical_date=DateTime(2026, 3, 29, 6, tzinfo=AMSTERDAM))
    assert result.state == "success"
    assert result.xcom("when") == "2026-03-29T06:00:00+02:00"
    first = Timetable.of(dag).point_after(start)
    # 06:00 in Amsterdam, across the DST change of 29 March: 05:00 then 04:00 UTC.
    assert first == dt.datetime(2026, 3, 28, 5, tzinfo=UTC)
    assert Timetable.of(dag).point_after(first) == dt.datetime(2026, 3, 29, 4, tzinfo=UTC)


def test_a_dag_keeps_plain_datetimes_of_subclassed_dates() -> None:
    """The DAG stores a subclass's dates as plain datetimes (same instant and zone), so a
    process without the subclass's module can still unpickle the DAG's schedule."""
    start = DateTime(2026, 3, 28, 6, tzinfo=AMSTERDAM)
    dag = DAG("plain", start_date=start, end_date=DateTime(2026, 4, 1, tzinfo=UTC), schedule=None)
    assert type(dag.start_date) is dt.datetime
    assert dag.start_date == start
    assert dag.start_date.tzinfo is AMSTERDAM
    assert type(dag.end_date) is dt.datetime


def test_pendulums_own_zones_become_plain_ones_too() -> None:
    """pendulum's Timezone and FixedTimezone are pendulum classes: the DAG keeps a ZoneInfo of
    the same name, or a fixed offset, so its pickle never needs pendulum."""
    import pickle

    import pendulum

    named = DAG("named", start_date=pendulum.datetime(2026, 7, 1, tz="Europe/Paris"))
    fixed = DAG("fixed", start_date=pendulum.datetime(2026, 7, 1, tz=pendulum.fixed_timezone(3600)))
    assert named.start_date == pendulum.datetime(2026, 7, 1, tz="Europe/Paris")
    assert named.start_date.tzinfo == ZoneInfo("Europe/Paris")
    assert fixed.start_date.tzinfo == dt.timezone(dt.timedelta(hours=1))
    assert b"pendulum" not in pickle.dumps((named.start_date, fixed.start_date))
