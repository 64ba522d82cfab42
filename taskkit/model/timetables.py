"""Airflow's timetables as schedule objects: `DAG(schedule=CronTriggerTimetable(...))`.

These are declarations only (what the user wrote, checked when written);
the maths of which runs they produce is in taskkit.scheduling.timetable_rules.
Two families, as Airflow 3 documents them:

- trigger timetables (CronTrigger, DeltaTrigger, MultipleCronTrigger) start a
  run AT each schedule point, covering the `interval` before it (zero by
  default, so data_interval_start == data_interval_end == logical_date);
- data-interval timetables (CronDataInterval, DeltaDataInterval) start a run
  once the interval between two schedule points has ENDED; its logical date
  is the interval's start (Airflow 2's behaviour for cron strings).

EventsTimetable runs at each listed datetime, with a zero-length interval.
"""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.errors import ScheduleError
from taskkit.model.assets import AssetOrTimeSchedule, BaseAsset
from taskkit.model.schedules import PRESETS

UTC = dt.timezone.utc
_ZERO = dt.timedelta(0)


def _zone(value: str | dt.tzinfo) -> dt.tzinfo:
    """A tzinfo from a zone name ("Europe/Amsterdam", "UTC") or a tzinfo (pendulum's too)."""
    if isinstance(value, dt.tzinfo):
        return value
    if isinstance(value, str):
        try:
            return UTC if value.upper() == "UTC" else zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    raise ScheduleError(
        f"timezone {value!r} is not a known time zone; use an IANA name such as "
        "'Europe/Amsterdam' or 'UTC', or a tzinfo."
    )


def _cron(owner: str, value: object) -> str:
    """The cron expression of `value` (a preset expanded), or ScheduleError naming the owner."""
    from croniter import croniter  # only when a DAG declares a cron timetable

    if isinstance(value, str):
        expression = PRESETS.get(value, value)
        if expression is not None and (
            len(expression.split()) == 5 and croniter.is_valid(expression)
        ):
            return expression
    raise ScheduleError(
        f"{owner}: {value!r} is not a valid 5-field cron expression (minute hour day-of-month "
        "month day-of-week, e.g. '30 2 * * *') or a preset such as '@daily'."
    )


if TYPE_CHECKING:
    from typing import TypeAlias

    from dateutil.relativedelta import relativedelta

    #: A fixed length of time, or calendar steps ("one month") as dateutil counts them.
    Delta: TypeAlias = dt.timedelta | relativedelta


def is_relativedelta(value: object) -> bool:
    """Whether `value` is a dateutil relativedelta, without importing dateutil (~8 ms).

    Whoever made one has imported the module, so it is in sys.modules if it can be one.
    """
    module = sys.modules.get("dateutil.relativedelta")
    kind = getattr(module, "relativedelta", None)
    return kind is not None and isinstance(value, kind)


#: Where a relativedelta's sign is judged: it may be positive on one date and not another
#: (months=1, days=-30), so like Airflow it is judged on one date; a fixed one keeps it pure.
_SIGN_CHECKED_AT = dt.datetime(2001, 1, 1)


def _delta(owner: str, name: str, value: Any, *, positive: bool) -> Delta:
    if is_relativedelta(value):
        moved = _SIGN_CHECKED_AT + value
        if moved > _SIGN_CHECKED_AT or (not positive and moved == _SIGN_CHECKED_AT):
            return value  # type: ignore[no-any-return]  # a relativedelta, checked above
    elif isinstance(value, dt.timedelta) and (value > _ZERO or (not positive and value == _ZERO)):
        return value
    need = "a positive" if positive else "a non-negative"
    raise ScheduleError(
        f"{owner}: {name} must be {need} datetime.timedelta or dateutil.relativedelta, "
        f"got {value!r}."
    )


def _run_immediately(owner: str, value: object) -> bool | dt.timedelta | None:
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, dt.timedelta) or value < _ZERO:
        raise ScheduleError(
            f"{owner}: run_immediately must be True, False, None or a non-negative "
            f"datetime.timedelta, got {value!r}."
        )
    return value


def _aware(value: object, owner: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ScheduleError(f"{owner}: every event date must be a datetime, got {value!r}.")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@attrs.frozen(init=False)
class CronTriggerTimetable:
    """Start a run at each cron point; its data interval is the `interval` before that point.

    `run_immediately` decides the first run of a DAG without a start_date:
    True runs the latest past point now, False waits for the next point, a
    timedelta runs the latest past point if it is at most that long ago, and
    None uses 10% of the gap between points (at least 5 minutes).
    """

    expression: str
    timezone: dt.tzinfo
    interval: Delta
    run_immediately: bool | dt.timedelta | None

    def __init__(
        self,
        cron: str,
        *,
        timezone: str | dt.tzinfo = "UTC",
        interval: Delta = _ZERO,
        run_immediately: bool | dt.timedelta | None = False,
    ) -> None:
        owner = type(self).__name__
        self.__attrs_init__(
            _cron(owner, cron),
            _zone(timezone),
            _delta(owner, "interval", interval, positive=False),
            _run_immediately(owner, run_immediately),
        )

    @property
    def summary(self) -> str:
        return self.expression


@attrs.frozen(init=False)
class MultipleCronTriggerTimetable:
    """Trigger a run whenever any of several crons fires; one run per instant at most."""

    expressions: tuple[str, ...]
    timezone: dt.tzinfo
    interval: Delta
    run_immediately: bool | dt.timedelta | None

    def __init__(
        self,
        *crons: str,
        timezone: str | dt.tzinfo = "UTC",
        interval: Delta = _ZERO,
        run_immediately: bool | dt.timedelta | None = False,
    ) -> None:
        owner = type(self).__name__
        if not crons:
            raise ScheduleError(f"{owner}: give at least one cron expression.")
        self.__attrs_init__(
            tuple(_cron(owner, c) for c in crons),
            _zone(timezone),
            _delta(owner, "interval", interval, positive=False),
            _run_immediately(owner, run_immediately),
        )

    @property
    def parts(self) -> tuple[CronTriggerTimetable, ...]:
        """One CronTriggerTimetable per expression, sharing zone, interval and first-run rule."""
        return tuple(
            CronTriggerTimetable(
                e,
                timezone=self.timezone,
                interval=self.interval,
                run_immediately=self.run_immediately,
            )
            for e in self.expressions
        )

    @property
    def summary(self) -> str:
        return ", ".join(self.expressions)


@attrs.frozen(init=False)
class DeltaTriggerTimetable:
    """Start a run every `delta`; its data interval is the `interval` before the run.

    Both may be a relativedelta: `relativedelta(months=1)` runs on the same
    day each month (clamped to the month's end, as dateutil adds months).
    """

    delta: Delta
    interval: Delta

    def __init__(self, delta: Delta, *, interval: Delta = _ZERO) -> None:
        owner = type(self).__name__
        self.__attrs_init__(
            _delta(owner, "delta", delta, positive=True),
            _delta(owner, "interval", interval, positive=False),
        )

    @property
    def summary(self) -> str:
        return str(self.delta)


@attrs.frozen(init=False)
class CronDataIntervalTimetable:
    """Data intervals between consecutive cron points; a run starts when its interval ends."""

    expression: str
    timezone: dt.tzinfo

    def __init__(self, cron: str, timezone: str | dt.tzinfo = "UTC") -> None:
        self.__attrs_init__(_cron(type(self).__name__, cron), _zone(timezone))

    @property
    def summary(self) -> str:
        return self.expression


@attrs.frozen(init=False)
class DeltaDataIntervalTimetable:
    """Data intervals `delta` long (a relativedelta: calendar months...); a run starts when
    its interval ends. `schedule=relativedelta(...)` means this, as in Airflow."""

    delta: Delta

    def __init__(self, delta: Delta) -> None:
        self.__attrs_init__(_delta(type(self).__name__, "delta", delta, positive=True))

    @property
    def summary(self) -> str:
        return str(self.delta)


@attrs.frozen(init=False)
class EventsTimetable:
    """Runs at each listed datetime (duplicates once), each with a zero-length interval.

    `restrict_to_events` makes a manual run take the latest event at or
    before its time (the first event if all are later) as its logical date.
    """

    event_dates: tuple[dt.datetime, ...]
    restrict_to_events: bool
    description: str | None

    def __init__(
        self,
        event_dates: Iterable[dt.datetime],
        restrict_to_events: bool = False,
        presorted: bool = False,
        description: str | None = None,
    ) -> None:
        owner = type(self).__name__
        if isinstance(event_dates, (str, bytes)) or not isinstance(event_dates, Iterable):
            raise ScheduleError(f"{owner}: event_dates must be a list of datetimes.")
        dates = [_aware(d, owner) for d in event_dates]
        # presorted only skips the sort, as in Airflow; duplicates are dropped either way.
        unique = list(dict.fromkeys(dates if presorted else sorted(dates)))
        self.__attrs_init__(tuple(unique), bool(restrict_to_events), description)

    def manual_data_interval(self, run_after: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """A manual run's data interval, as Airflow infers it: [run_after, run_after], or
        with restrict_to_events the latest event at or before it (else the first event)."""
        run_after = _aware(run_after, type(self).__name__)
        if not self.restrict_to_events or not self.event_dates:
            return run_after, run_after
        past = [e for e in self.event_dates if e <= run_after]
        event = past[-1] if past else self.event_dates[0]
        return event, event

    @property
    def summary(self) -> str:
        if self.description is not None:
            return self.description
        return f"{len(self.event_dates)} events"


#: Every schedule object `DAG(schedule=...)` accepts besides None, presets, crons and timedeltas.
TIMETABLES: tuple[type[Any], ...] = (
    CronTriggerTimetable,
    MultipleCronTriggerTimetable,
    DeltaTriggerTimetable,
    CronDataIntervalTimetable,
    DeltaDataIntervalTimetable,
    EventsTimetable,
)

AnyTimetable = (
    CronTriggerTimetable
    | MultipleCronTriggerTimetable
    | DeltaTriggerTimetable
    | CronDataIntervalTimetable
    | DeltaDataIntervalTimetable
    | EventsTimetable
)
#: What a DAG's `schedule` may hold once validated.
Schedule = str | dt.timedelta | AnyTimetable | BaseAsset | AssetOrTimeSchedule | None
