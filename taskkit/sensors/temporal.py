"""Sensors that wait for a time: TimeSensor, TimeDeltaSensor, DateTimeSensor, DayOfWeekSensor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring.sensor import BaseSensorOperator
from taskkit.authoring.weekday import WeekDay
from taskkit.triggers.temporal import DateTimeTrigger

if TYPE_CHECKING:
    from taskkit.authoring.context import Context


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class TimeSensor(BaseSensorOperator):
    """Waits until `target_time` (a time of day) has passed today, in the DAG's time zone.

    As Airflow 3.3 does: the DAG's zone is its start_date's (UTC without
    one), and target_time is read on that zone's clock (a tzinfo of its own
    is ignored, as Airflow's datetime.combine(..., dag.timezone) ignores it).
    "Today" is fixed when the try loads the DAG, which Airflow does when the
    try starts: in poke mode the day the try began (a wait across midnight
    keeps that day's target), in reschedule mode each poke's day. A sensor
    for 01:00 starting at 23:00 is done at once; use DateTimeSensor to wait
    for the next day.
    """

    def __init__(self, *, target_time: dt.time, deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_time, dt.time):
            raise self._fail(f"target_time must be a datetime.time, got {target_time!r}.")
        self.target_time = target_time
        self.deferrable = self._check_bool("deferrable", deferrable)
        self._loaded_at: dt.datetime | None = None

    def target_datetime(self, now: dt.datetime) -> dt.datetime:
        """`target_time` on `now`'s day in the DAG's zone, as an aware datetime in that zone."""
        start = self.dag.start_date
        zone = start.tzinfo if start is not None and start.tzinfo else dt.timezone.utc
        return dt.datetime.combine(now.astimezone(zone).date(), self.target_time, zone)

    def execute(self, context: Context) -> Any:
        """Poke as any sensor; deferrable, defer to a DateTimeTrigger at the target time."""
        self._loaded_at = _utcnow()  # where Airflow's try parses the DAG file: the day is fixed
        if not self.deferrable:
            return super().execute(context)
        target = self.target_datetime(self._loaded_at)
        if _utcnow() <= target:
            self.defer_to(DateTimeTrigger(target.astimezone(dt.timezone.utc)))
        return None

    def poke(self, context: Context) -> bool:
        now = _utcnow()
        target = self.target_datetime(self._loaded_at or now)
        print(f"Checking if the time ({target.isoformat()}) has come")
        return now > target


class TimeDeltaSensor(BaseSensorOperator):
    """Waits until `delta` after the run's data interval end (its logical date without one).

    An int `delta` is minutes, as in Airflow.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("delta",)

    def __init__(
        self, *, delta: dt.timedelta | int, deferrable: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(delta, bool) or not isinstance(delta, (dt.timedelta, int, str)):
            raise self._fail(f"delta must be a timedelta or whole minutes, got {delta!r}.")
        self.delta = delta
        self.deferrable = self._check_bool("deferrable", deferrable)

    def _target(self, context: Context) -> dt.datetime:
        delta = (
            self.delta
            if isinstance(self.delta, dt.timedelta)
            else dt.timedelta(minutes=int(self.delta))
        )
        base: dt.datetime = context["data_interval_end"]
        return base + delta

    def execute(self, context: Context) -> Any:
        """Poke as any sensor; deferrable, defer to a DateTimeTrigger at the target moment."""
        if not self.deferrable:
            return super().execute(context)
        target = self._target(context)
        if _utcnow() <= target:
            self.defer_to(DateTimeTrigger(target))
        return None

    def poke(self, context: Context) -> bool:
        target = self._target(context)
        print(f"Checking if the time ({target.isoformat()}) has come")
        return _utcnow() > target


class DateTimeSensor(BaseSensorOperator):
    """Waits until `target_time`: an aware datetime, or an ISO string (templated; naive = UTC).

    Unlike TimeSensor it names one moment, so a backfilled run whose moment
    has long passed does not wait.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("target_time",)

    def __init__(
        self, *, target_time: str | dt.datetime, deferrable: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = self._check_bool("deferrable", deferrable)
        if not isinstance(target_time, (str, dt.datetime)):
            raise self._fail(
                f"target_time must be a datetime or an ISO date-time string, got {target_time!r}."
            )
        if isinstance(target_time, str) and "{" not in target_time:
            try:
                _moment(target_time)
            except ValueError as exc:
                raise self._fail(str(exc)) from None
        self.target_time = target_time

    def execute(self, context: Context) -> Any:
        """Poke as any sensor; deferrable, defer to a DateTimeTrigger at `target_time`."""
        if not self.deferrable:
            return super().execute(context)
        moment = _moment(self.target_time)
        if _utcnow() <= moment:
            self.defer_to(DateTimeTrigger(moment))
        return None

    def poke(self, context: Context) -> bool:
        moment = _moment(self.target_time)
        print(f"Checking if the time ({moment.isoformat()}) has come")
        return _utcnow() > moment


def _moment(value: str | dt.datetime) -> dt.datetime:
    """An aware datetime from a datetime or an ISO string (naive means UTC)."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):  # fromisoformat reads a trailing Z only from Python 3.11
            text = text[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"target_time {value!r} is not an ISO date-time; use e.g. '2026-01-02T03:00:00Z'."
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class DayOfWeekSensor(BaseSensorOperator):
    """Waits until today (UTC) is one of `week_day`: a day name, a WeekDay, or a set of them.

    With `use_task_logical_date` it checks the run's logical date instead,
    which suits backfills.
    """

    def __init__(
        self,
        *,
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            self._days = WeekDay.validate_week_day(week_day)
        except ValueError as exc:
            raise self._fail(str(exc)) from None
        self.week_day = week_day
        self.use_task_logical_date = self._check_bool(
            "use_task_logical_date", use_task_logical_date
        )

    def poke(self, context: Context) -> bool:
        day = context["logical_date"] if self.use_task_logical_date else _utcnow()
        names = ", ".join(d.name for d in sorted(self._days))
        print(f"Checking if {day.date().isoformat()} is a {names}")
        return day.isoweekday() in self._days
