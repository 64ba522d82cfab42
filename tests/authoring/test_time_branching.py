"""LatestOnlyOperator, BranchDateTimeOperator, BranchDayOfWeekOperator and WeekDay."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import (
    DAG,
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    CronTriggerTimetable,
    EmptyOperator,
    LatestOnlyOperator,
    WeekDay,
)
from taskkit.authoring.context import DagRunInfo
from taskkit.errors import DagDefinitionError
from taskkit.states import State

UTC = dt.timezone.utc
SATURDAY = dt.datetime(2026, 1, 3, 10, tzinfo=UTC)


def _date_branch(**targets: object) -> DAG:
    with DAG("when", start_date=dt.datetime(2026, 1, 1)) as d:
        BranchDateTimeOperator(
            task_id="when",
            follow_task_ids_if_true="inside",
            follow_task_ids_if_false="outside",
            use_task_logical_date=True,
            **targets,  # type: ignore[arg-type]
        ) >> [EmptyOperator(task_id="inside"), EmptyOperator(task_id="outside")]
    return d


@pytest.mark.parametrize(
    ("targets", "chosen"),
    [
        ({"target_lower": dt.time(9), "target_upper": dt.time(11)}, "inside"),
        ({"target_lower": dt.time(11), "target_upper": dt.time(12)}, "outside"),
        ({"target_lower": dt.time(22), "target_upper": dt.time(11)}, "outside"),  # upper next day
        ({"target_lower": None, "target_upper": dt.datetime(2026, 1, 3, 10)}, "inside"),
        ({"target_lower": dt.datetime(2026, 1, 4), "target_upper": None}, "outside"),
    ],
)
def test_branch_datetime_compares_the_logical_date_with_the_targets(
    targets: dict[str, object], chosen: str
) -> None:
    states = _date_branch(**targets).test(logical_date=SATURDAY).task_states
    other = {"inside": "outside", "outside": "inside"}[chosen]
    assert (states[chosen], states[other]) == (State.SUCCESS, State.SKIPPED)


def test_branch_datetime_without_targets_is_a_definition_error() -> None:
    with pytest.raises(DagDefinitionError, match="target_lower and target_upper are both None"):
        _date_branch(target_lower=None, target_upper=None)


@pytest.mark.parametrize(
    ("week_day", "chosen"),
    [
        ("Saturday", "weekend"),
        (WeekDay.SATURDAY, "weekend"),
        ({"saturday", WeekDay.SUNDAY}, "weekend"),
        ({WeekDay.MONDAY, WeekDay.FRIDAY}, "weekday"),
    ],
)
def test_branch_day_of_week_follows_the_day_of_the_logical_date(
    week_day: object, chosen: str
) -> None:
    with DAG("days") as d:
        BranchDayOfWeekOperator(
            task_id="day",
            week_day=week_day,  # type: ignore[arg-type]
            follow_task_ids_if_true="weekend",
            follow_task_ids_if_false=["weekday"],
            use_task_logical_date=True,
        ) >> [EmptyOperator(task_id="weekend"), EmptyOperator(task_id="weekday")]
    states = d.test(logical_date=SATURDAY).task_states
    other = {"weekend": "weekday", "weekday": "weekend"}[chosen]
    assert (states[chosen], states[other]) == (State.SUCCESS, State.SKIPPED)


def test_a_bad_week_day_is_a_definition_error_naming_the_task() -> None:
    with DAG("bad_day"), pytest.raises(DagDefinitionError, match="task 'day': week_day 'Funday'"):
        BranchDayOfWeekOperator(
            task_id="day",
            week_day="Funday",
            follow_task_ids_if_true="a",
            follow_task_ids_if_false="b",
        )
    assert WeekDay.get_weekday_number("sunday") is WeekDay.SUNDAY == 7


def test_latest_only_lets_manual_and_test_runs_through() -> None:
    with DAG("latest", schedule="@daily", start_date=dt.datetime(2020, 1, 1)) as d:
        LatestOnlyOperator(task_id="latest_only") >> EmptyOperator(task_id="work")
    result = d.test(logical_date=dt.datetime(2020, 1, 1))  # long ago, but asked for
    assert result.task_states["work"] is State.SUCCESS


def test_latest_only_skips_unless_now_is_within_the_latest_interval() -> None:
    table = CronTriggerTimetable("0 * * * *", interval=dt.timedelta(hours=1))
    with DAG("latest", schedule=table, start_date=dt.datetime(2020, 1, 1)):
        gate = LatestOnlyOperator(task_id="latest_only")
        gate >> EmptyOperator(task_id="work")
    hour = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def choice(point: dt.datetime) -> list[str]:
        start = point - dt.timedelta(hours=1)
        run = DagRunInfo("latest", "r", start, {}, "scheduled", start, point)
        return gate.choose_branch({"dag_run": run, "logical_date": start})

    assert choice(hour) == ["work"]  # the run of the latest point
    assert choice(hour - dt.timedelta(hours=3)) == []  # an old point caught up on
