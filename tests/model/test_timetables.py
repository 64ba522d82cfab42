"""Timetable objects check their arguments when written: one clear DagDefinitionError each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from dateutil.relativedelta import relativedelta

from taskkit import (
    DAG,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    EventsTimetable,
    MultipleCronTriggerTimetable,
)
from taskkit.errors import DagDefinitionError


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CronTriggerTimetable("61 * * * *"), r"CronTriggerTimetable: '61 \* \* \* \*'"),
        (lambda: CronDataIntervalTimetable("@fortnightly"), "'@fortnightly' is not a valid"),
        (lambda: CronTriggerTimetable("@daily", timezone="Mars/Olympus"), "not a known time"),
        (MultipleCronTriggerTimetable, "give at least one cron"),
        (lambda: DeltaTriggerTimetable(dt.timedelta(0)), "delta must be a positive"),
        (lambda: DeltaDataIntervalTimetable(3600), "positive datetime.timedelta or dateutil"),
        (
            lambda: CronTriggerTimetable("@daily", interval=-dt.timedelta(hours=1)),
            "interval must be a non-negative",
        ),
        (lambda: EventsTimetable(["2026-01-01"]), "every event date must be a datetime"),
    ],
)
def test_bad_arguments_name_the_timetable_and_the_fix(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(DagDefinitionError, match=message) as caught:
        make()
    assert "\n" not in str(caught.value)


def test_a_dag_accepts_timetables_and_refuses_other_objects() -> None:
    table = CronTriggerTimetable("@daily", timezone="Europe/Amsterdam")
    assert DAG("tt", schedule=table).schedule == table
    assert table.expression == "0 0 * * *"
    with pytest.raises(DagDefinitionError, match="or relativedelta, or a timetable"):
        DAG("bad", schedule=object())


def test_timetables_are_values() -> None:
    assert CronTriggerTimetable("0 1 * * *") == CronTriggerTimetable("0 1 * * *", timezone="UTC")
    events = EventsTimetable([dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 1)])
    assert events.event_dates[0] == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert events.summary == "2 events"


def test_relativedeltas_are_accepted_and_their_sign_is_checked() -> None:
    """A calendar delta (months, years) is a valid delta or interval; a negative one is not."""
    month = relativedelta(months=1)
    assert DeltaTriggerTimetable(month, interval=month).summary == "relativedelta(months=+1)"
    assert CronTriggerTimetable("@daily", interval=month).interval == month
    with pytest.raises(DagDefinitionError, match="delta must be a positive"):
        DeltaDataIntervalTimetable(relativedelta(months=-1))
    with pytest.raises(DagDefinitionError, match=r"DAG 'm': schedule: .*must be a positive"):
        DAG("m", schedule=relativedelta())
