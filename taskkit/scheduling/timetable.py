"""PURE: which scheduled run (logical date and data interval) a DAG is due for next.

A scheduled run covers [data_interval_start, data_interval_end) and is due
once that interval has ended; its logical_date is the interval's start, as
in Airflow 2. `now` is a parameter, never read here.
"""

from __future__ import annotations

import datetime as dt

import attrs

from taskkit.authoring.schedules import PRESETS

UTC = dt.timezone.utc


@attrs.frozen
class DueRun:
    """A scheduled run to create."""

    logical_date: dt.datetime
    data_interval_end: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _following(schedule: str | dt.timedelta, start: dt.datetime) -> dt.datetime:
    """The first schedule point strictly after `start`."""
    if isinstance(schedule, dt.timedelta):
        return start + schedule
    from croniter import croniter

    expression = PRESETS.get(schedule, schedule)
    result: dt.datetime = croniter(expression, start).get_next(dt.datetime)
    return _aware(result)


def _first_point(schedule: str | dt.timedelta, start_date: dt.datetime) -> dt.datetime:
    """The first schedule point at or after start_date (a timedelta starts at start_date)."""
    if isinstance(schedule, dt.timedelta):
        return start_date
    return _following(schedule, start_date - dt.timedelta(microseconds=1))


def next_due_run(
    schedule: str | dt.timedelta | None,
    *,
    start_date: dt.datetime | None,
    end_date: dt.datetime | None,
    catchup: bool,
    last_logical_date: dt.datetime | None,
    now: dt.datetime,
) -> DueRun | None:
    """The next run to create, or None if none is due yet (or ever).

    With catchup, runs come one interval after another from start_date, so a
    DAG years behind is caught up incrementally, one run per call. Without
    catchup only the latest interval that has ended is created.
    """
    if schedule is None or start_date is None:
        return None
    start_date = _aware(start_date)
    if schedule == "@once":
        if last_logical_date is not None or start_date > now:
            return None
        return DueRun(start_date, start_date)
    if last_logical_date is None:
        begin = _first_point(schedule, start_date)
    else:
        begin = _following(schedule, _aware(last_logical_date))
    end = _following(schedule, begin)
    if end > now:
        return None
    if not catchup:
        while True:  # skip ahead to the latest interval that has ended
            later = _following(schedule, end)
            if later > now:
                break
            begin, end = end, later
    if end_date is not None and begin > _aware(end_date):
        return None
    return DueRun(begin, end)
