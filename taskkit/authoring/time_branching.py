"""Branches on the clock: LatestOnlyOperator, BranchDateTimeOperator, BranchDayOfWeekOperator.

Each is a BaseBranchOperator, so its choice is applied by the run engine
like any branch (taskkit.authoring.branching). "Now" is the wall clock, or
the run's logical date with `use_task_logical_date`, as in Airflow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from taskkit.authoring.branching import BaseBranchOperator
from taskkit.authoring.weekday import WeekDay
from taskkit.errors import InvalidTaskParameterError
from taskkit.scheduling.timetable import Timetable

if TYPE_CHECKING:
    from taskkit.authoring.context import Context

UTC = dt.timezone.utc
#: Runs of these types were asked for by someone, so LatestOnlyOperator lets them through.
_ASKED_FOR = frozenset({"manual", "test"})


class LatestOnlyOperator(BaseBranchOperator):
    """Skip the direct downstream tasks unless this run is the latest scheduled one.

    As in Airflow 3: a manual run (and DAG.test()) always proceeds; a
    scheduled or backfill run proceeds only while the wall clock is within
    (its data interval start, the next run's data interval end], so catching
    up on old intervals skips their downstream work. A schedule with no run
    after this one proceeds.
    """

    def choose_branch(self, context: Context) -> list[str]:
        run = context["dag_run"]
        everything = sorted(self.downstream_task_ids)
        if run.run_type in _ASKED_FOR:
            return everything
        start = run.data_interval_start or run.logical_date
        following = Timetable.of(self.dag).following(run.logical_date)
        if following is None:
            return everything
        now = dt.datetime.now(UTC)
        if start < now <= following.data_interval_end:
            return everything
        print(
            f"Not the latest run ({start} < now <= {following.data_interval_end} is false): "
            "skipping the downstream tasks."
        )
        return []


def _now(context: Context, use_task_logical_date: bool) -> dt.datetime:
    if use_task_logical_date:
        logical_date: dt.datetime = context["logical_date"]
        return logical_date
    return dt.datetime.now(UTC)


def _dag_zone(task: BaseBranchOperator) -> dt.tzinfo:
    """Naive datetimes mean the DAG's zone (its start_date's), else UTC."""
    start = getattr(task.dag, "start_date", None)
    return start.tzinfo if start is not None and start.tzinfo is not None else UTC


class BranchDateTimeOperator(BaseBranchOperator):
    """Follow one branch when now is within [target_lower, target_upper], the other otherwise.

    A `datetime.time` target is that time on today's date (the upper one on
    the next day when it is earlier than the lower one); either bound may be
    None for an open end.
    """

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: dt.datetime | dt.time | None,
        target_upper: dt.datetime | dt.time | None,
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise self._fail(
                "target_lower and target_upper are both None; give at least one "
                "(a datetime.datetime or datetime.time) to compare the time with."
            )
        for name, value in (("target_lower", target_lower), ("target_upper", target_upper)):
            if value is not None and not isinstance(value, (dt.datetime, dt.time)):
                raise self._fail(
                    f"{name} must be a datetime.datetime, a datetime.time or None, got {value!r}."
                )
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: Context) -> str | Iterable[str]:
        now = _now(context, self.use_task_logical_date)
        lower, upper = _as_datetimes(now, self.target_lower, self.target_upper, _dag_zone(self))
        if (upper is not None and upper < now) or (lower is not None and lower > now):
            return self.follow_task_ids_if_false
        return self.follow_task_ids_if_true


def _as_datetimes(
    now: dt.datetime,
    lower: dt.datetime | dt.time | None,
    upper: dt.datetime | dt.time | None,
    zone: dt.tzinfo,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Both targets as aware datetimes; times are put on now's date, as Airflow does."""

    def on_date(value: dt.datetime | dt.time | None) -> dt.datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(now, value)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)

    low, high = on_date(lower), on_date(upper)
    both_times = isinstance(lower, dt.time) or isinstance(upper, dt.time)
    if both_times and low is not None and high is not None and high < low:
        high += dt.timedelta(days=1)
    return low, high


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follow one branch on the given day(s) of the week, the other on the rest."""

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            self._week_days = WeekDay.validate_week_day(week_day)
        except InvalidTaskParameterError as exc:
            raise self._fail(str(exc)) from None
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: Context) -> str | Iterable[str]:
        now = _now(context, self.use_task_logical_date).astimezone(_dag_zone(self))
        if now.isoweekday() in self._week_days:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false
