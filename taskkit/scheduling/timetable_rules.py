"""PURE: the runs Airflow's timetable objects produce (taskkit.model.timetables).

Each rule answers Airflow's one question, "the next run after the last
scheduled one, within [earliest, latest], with or without catchup", given
`now` as a parameter. A run is (logical date = data interval start,
data interval end, run after = the interval's end), as Airflow's DagRunInfo.

- Trigger timetables fire AT their points: a point p gives the run
  [p - interval, p], due at p. Without catchup the next run is the latest
  point at or before now if the last run is older (missed points are
  skipped), else the point after the last run. A DAG without start_date
  starts as `run_immediately` says.
- Data-interval timetables give [p, next point), due when it ends. Without
  catchup they skip to the latest interval that has ended.
- EventsTimetable gives [e, e] for each event; without catchup, events
  already past when planned are skipped.

`manual_interval` is Airflow's infer_manual_data_interval: the data interval
a run triggered by hand for a logical date gets.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.model.timetables import (
    AnyTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    EventsTimetable,
    MultipleCronTriggerTimetable,
    is_relativedelta,
)
from taskkit.scheduling.cron import TICK, UTC, as_utc, cron_after, cron_before
from taskkit.scheduling.planned_run import PlannedRun

if TYPE_CHECKING:
    from taskkit.model.timetables import Delta

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
#: A DAG without start_date whose last point is at most this much of the gap ago runs it now.
_FIRST_RUN_SHARE = 10
_FIRST_RUN_FLOOR = dt.timedelta(minutes=5)


@attrs.frozen
class Window:
    """Airflow's TimeRestriction: the DAG's start and end dates and its catchup."""

    earliest: dt.datetime | None
    latest: dt.datetime | None
    catchup: bool


@attrs.frozen
class _CronPoints:
    expression: str
    zone: dt.tzinfo

    def next(self, moment: dt.datetime) -> dt.datetime:
        return cron_after(self.expression, self.zone, moment)

    def prev(self, moment: dt.datetime) -> dt.datetime:
        return cron_before(self.expression, self.zone, moment)

    def align_next(self, moment: dt.datetime) -> dt.datetime:
        """`moment` if it is a point, else the next point."""
        return self.next(moment - TICK)

    def align_prev(self, moment: dt.datetime) -> dt.datetime:
        """`moment` if it is a point, else the previous point."""
        return self.prev(moment + TICK)


@attrs.frozen
class _DeltaPoints:
    """Every instant is a point: a delta has no grid of its own.

    A relativedelta steps in calendar terms on UTC dates, as Airflow adds it
    to UTC datetimes: months=1 from 31 January is 28/29 February.
    """

    delta: Delta

    def next(self, moment: dt.datetime) -> dt.datetime:
        return moment + self.delta

    def prev(self, moment: dt.datetime) -> dt.datetime:
        return moment - self.delta

    def align_next(self, moment: dt.datetime) -> dt.datetime:
        return moment

    def align_prev(self, moment: dt.datetime) -> dt.datetime:
        return moment


_Points = _CronPoints | _DeltaPoints


def next_planned(
    table: AnyTimetable, window: Window, last: dt.datetime | None, now: dt.datetime
) -> PlannedRun | None:
    """The next run after the one with logical date `last` (None: the first), or None."""
    window = Window(
        None if window.earliest is None else as_utc(window.earliest),
        None if window.latest is None else as_utc(window.latest),
        window.catchup,
    )
    last, now = (None if last is None else as_utc(last)), as_utc(now)
    if isinstance(table, CronTriggerTimetable):
        points = _CronPoints(table.expression, table.timezone)
        return _trigger(points, table.interval, table.run_immediately, window, last, now)
    if isinstance(table, DeltaTriggerTimetable):
        return _trigger(_DeltaPoints(table.delta), table.interval, True, window, last, now)
    if isinstance(table, MultipleCronTriggerTimetable):
        return _multiple(table, window, last, now)
    if isinstance(table, CronDataIntervalTimetable):
        points = _CronPoints(table.expression, table.timezone)
        return _data_interval(points, window, last, now)
    if isinstance(table, DeltaDataIntervalTimetable):
        return _data_interval(_DeltaPoints(table.delta), window, last, now)
    return _event(table, window, last, now)


def manual_interval(table: AnyTimetable, when: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The data interval of a manual run at logical date `when`, as Airflow infers it.

    Trigger timetables: the `interval` before `when`. CronDataInterval: the
    last complete interval at or before `when` (a run triggered at 01:00 of a
    daily DAG covers the previous day). DeltaDataInterval: the delta before
    `when`. Events: `when` (or its event, with restrict_to_events).
    """
    when = as_utc(when)
    if isinstance(table, EventsTimetable):
        return table.manual_data_interval(when)
    if isinstance(table, CronDataIntervalTimetable):
        points = _CronPoints(table.expression, table.timezone)
        end = points.align_prev(when)
        return points.prev(end), end
    if isinstance(table, DeltaDataIntervalTimetable):
        return as_utc(when - table.delta), when
    # The trigger timetables (MultipleCron's parts share one interval, so its min is this).
    return as_utc(when - table.interval), when


def _trigger(  # noqa: PLR0917 -- Airflow's rule, its inputs spelled out
    points: _Points,
    interval: Delta,
    run_immediately: bool | dt.timedelta | None,
    window: Window,
    last: dt.datetime | None,
    now: dt.datetime,
) -> PlannedRun | None:
    last_end = None if last is None else last + interval
    candidates = [] if window.catchup else [points.align_prev(now)]
    if last_end is not None:
        candidates.append(points.next(last_end))
    elif window.earliest is None:
        candidates.append(_first_run(points, run_immediately, now))
    if window.earliest is not None and (last_end is None or not window.catchup):
        candidates.append(points.align_next(window.earliest))
    # With catchup only one candidate is there: the point after the last run, or the first.
    point = max(candidates)
    if window.latest is not None and window.latest < point:
        return None
    return PlannedRun(point - interval, point, point)


def _first_run(
    points: _Points, run_immediately: bool | dt.timedelta | None, now: dt.datetime
) -> dt.datetime:
    """A DAG without start_date: the latest past point, or the next one, as run_immediately says."""
    past, upcoming = points.align_prev(now), points.align_next(now)
    if run_immediately is True:
        return past
    if isinstance(run_immediately, dt.timedelta):
        buffer = run_immediately
    else:  # None or False: a tenth of the gap between points, as Airflow does
        buffer = max((upcoming - past) / _FIRST_RUN_SHARE, _FIRST_RUN_FLOOR)
    return past if now - past <= buffer else upcoming


def _multiple(
    table: MultipleCronTriggerTimetable,
    window: Window,
    last: dt.datetime | None,
    now: dt.datetime,
) -> PlannedRun | None:
    """The soonest run of any part; without catchup the latest one already due, if any."""
    found = [r for r in (next_planned(p, window, last, now) for p in table.parts) if r]
    if not found:
        return None
    if window.catchup:
        return min(found, key=lambda r: r.logical_date)
    due = [r for r in found if r.logical_date <= now]
    if due:
        return max(due, key=lambda r: r.logical_date)
    return min(found, key=lambda r: r.logical_date)


def _data_interval(
    points: _Points, window: Window, last: dt.datetime | None, now: dt.datetime
) -> PlannedRun | None:
    earliest = window.earliest
    if not window.catchup:
        earliest = _skip_to_latest(points, earliest, now)
    elif earliest is not None:
        earliest = points.align_next(earliest)
    if last is None:
        if earliest is None:
            return None
        start = earliest
    else:
        start = points.align_prev(points.next(last))
        if earliest is not None:
            start = max(start, earliest)
        if start <= last:
            start = points.next(start)
    if window.latest is not None and start > window.latest:
        return None
    end = points.next(start)
    return PlannedRun(start, end, end)


def _skip_to_latest(points: _Points, earliest: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """The start of the latest interval that has ended by `now`, not before `earliest`."""
    if isinstance(points, _DeltaPoints):
        latest = points.prev(_delta_floor(points, earliest or now, now))
        return latest if earliest is None else max(latest, earliest)
    last_start = points.prev(now)
    latest = last_start if points.next(last_start) == now else points.prev(last_start)
    return latest if earliest is None else max(latest, points.align_next(earliest))


def _delta_floor(points: _DeltaPoints, anchor: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The latest interval boundary at or before `now`, as Airflow rounds it.

    A fixed delta rounds on its grid from the epoch. Months and years have no
    fixed length, so they step one period at a time from `anchor` (the
    start_date, else now): day clamping makes the steps path-dependent.
    """
    delta: Any = points.delta
    if is_relativedelta(delta) and (delta.months or delta.years):
        boundary = anchor
        while points.next(boundary) <= now:
            boundary = points.next(boundary)
        return boundary
    step: dt.timedelta = delta
    if is_relativedelta(delta):  # Airflow counts days, hours, minutes and seconds
        step = dt.timedelta(
            days=delta.days, hours=delta.hours, minutes=delta.minutes, seconds=delta.seconds
        )
    return _EPOCH + ((now - _EPOCH) // step) * step


def _event(
    table: EventsTimetable, window: Window, last: dt.datetime | None, now: dt.datetime
) -> PlannedRun | None:
    earliest = window.earliest
    if not window.catchup and (earliest is None or now > earliest):
        earliest = now
    for event in table.event_dates:
        if earliest is not None and event < earliest:
            continue
        if last is not None and event <= last:
            continue
        if window.latest is not None and event > window.latest:
            return None
        return PlannedRun(event, event, event)
    return None
