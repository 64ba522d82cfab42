"""PURE: which scheduled runs (logical date and data interval) a DAG's schedule produces.

A scheduled run covers [data_interval_start, data_interval_end) and is due
once that interval has ended; its logical_date is the interval's start, as
in Airflow 2. `now` is always a parameter, never read here.

Time zones: a naive start_date means UTC. Cron schedules and presets are
evaluated on the wall clock of the start_date's zone, so "@daily" is local
midnight all year. The schedule points are a set of instants, and the data
intervals tile time between consecutive points, so across a DST change no
interval is skipped and none is covered twice:

- a wall time that does not exist (spring forward, 02:30 in Europe/Amsterdam
  on the last Sunday of March) fires at the moment the clocks jump (03:00
  local), like cron; the day's interval is an hour shorter;
- a wall time that happens twice (fall back, 02:30 on the last Sunday of
  October) fires once, at its first occurrence, unless the cron's hour field
  is `*`: an hourly schedule fires every real hour, both 02:00s included
  (25 runs that day, 23 in spring), since each covers a different hour of data.

timedelta schedules are absolute durations from start_date (24 hours, not
"the same wall time tomorrow"). Every datetime returned is in UTC.

Airflow's timetable objects (CronTriggerTimetable, EventsTimetable, ...) are
planned by timetable_rules, with Airflow 3's semantics; Timetable hands them on.
"""

from __future__ import annotations

import datetime as dt

import attrs

from taskkit.errors import ScheduleError
from taskkit.model.assets import AssetOrTimeSchedule, BaseAsset
from taskkit.model.schedules import CONTINUOUS, PRESETS
from taskkit.model.timetables import (
    TIMETABLES,
    AnyTimetable,
    CronDataIntervalTimetable,
    DeltaDataIntervalTimetable,
    Schedule,
)
from taskkit.scheduling.cron import TICK, UTC, as_utc, cron_after, cron_before
from taskkit.scheduling.planned_run import PlannedRun
from taskkit.scheduling.timetable_rules import Window, manual_interval, next_planned

__all__ = ["MAX_RUNS_BETWEEN", "PlannedRun", "Timetable", "as_utc"]

#: A backfill or listing larger than this is refused instead of building a huge list.
MAX_RUNS_BETWEEN = 10_000


@attrs.frozen
class Timetable:
    """A DAG's schedule with its start, end and catchup: the runs it should have, over time."""

    schedule: Schedule
    start_date: dt.datetime | None
    end_date: dt.datetime | None = None
    catchup: bool = False

    @classmethod
    def of(cls, spec: object) -> Timetable:
        """The timetable of a DagSpec (or DAG): its schedule, start_date, end_date and catchup."""
        schedule = getattr(spec, "schedule", None)
        if isinstance(schedule, AssetOrTimeSchedule):
            schedule = schedule.timetable  # its asset runs are the run creator's other half
        elif isinstance(schedule, BaseAsset):
            schedule = None  # runs only when its assets are updated
        return cls(
            schedule,
            getattr(spec, "start_date", None),
            getattr(spec, "end_date", None),
            bool(getattr(spec, "catchup", False)),
        )

    @property
    def table(self) -> AnyTimetable | None:
        """The schedule when it is one of Airflow's timetable objects (timetable_rules plans it)."""
        return self.schedule if isinstance(self.schedule, TIMETABLES) else None

    @property
    def window(self) -> Window:
        return Window(self.start_date, self.end_date, self.catchup)

    @property
    def zone(self) -> dt.tzinfo:
        """The zone crons are evaluated in: a timetable's own, else the start_date's, else UTC."""
        if isinstance(zone := getattr(self.schedule, "timezone", None), dt.tzinfo):
            return zone
        if self.start_date is None or self.start_date.tzinfo is None:
            return UTC
        return self.start_date.tzinfo

    @property
    def _cron(self) -> str | None:
        if not isinstance(self.schedule, str):
            return None
        return PRESETS.get(self.schedule, self.schedule)

    # -- schedule points ---------------------------------------------------------------

    def point_after(self, moment: dt.datetime) -> dt.datetime:
        """The first schedule point strictly after `moment`."""
        moment = as_utc(moment)
        if isinstance(self.schedule, dt.timedelta):
            start = self._start()
            if moment < start:
                return start
            return start + ((moment - start) // self.schedule + 1) * self.schedule
        return self._cron_step(moment, forward=True)

    def point_at_or_before(self, moment: dt.datetime) -> dt.datetime | None:
        """The last schedule point at or before `moment` (None before a timedelta's start)."""
        moment = as_utc(moment)
        if isinstance(self.schedule, dt.timedelta):
            start = self._start()
            if moment < start:
                return None
            return start + ((moment - start) // self.schedule) * self.schedule
        return self._cron_step(moment + TICK, forward=False)

    def _cron_step(self, moment: dt.datetime, *, forward: bool) -> dt.datetime:
        expression = self._cron
        if expression is None:
            raise ScheduleError(f"schedule {self.schedule!r} has no schedule points")
        step = cron_after if forward else cron_before
        return step(expression, self.zone, moment)

    def _start(self) -> dt.datetime:
        if self.start_date is None:
            raise ScheduleError("a schedule without a start_date has no schedule points")
        return as_utc(self.start_date)

    def first_point(self) -> dt.datetime | None:
        """The first schedule point at or after start_date (a timedelta starts at start_date)."""
        if self.schedule is None or self.start_date is None:
            return None
        start = self._start()
        if isinstance(self.schedule, dt.timedelta) or self.schedule == "@once":
            return start
        return self.point_after(start - TICK)

    # -- runs --------------------------------------------------------------------------

    def next_run(
        self,
        last_logical_date: dt.datetime | None,
        now: dt.datetime,
        *,
        last_end: dt.datetime | None = None,
    ) -> PlannedRun | None:
        """The next scheduled run to create after `last_logical_date`, due yet or not.

        None when there will be none (no schedule, "@once" done, past end_date).
        With catchup it is the interval right after the last one (the first at
        start_date when there is none), so history fills one interval at a time,
        oldest first. Without catchup, intervals that ended before the latest
        ended one are skipped: a DAG unpaused after a week runs once, not 7 times.
        A timetable object follows its own rules (timetable_rules). "@continuous"
        needs the last run's data interval end, `last_end` (`_continuous_run`).
        """
        if self.schedule == CONTINUOUS:
            return self._continuous_run(last_logical_date, last_end, now)
        if self.table is not None:
            return next_planned(self.table, self.window, last_logical_date, now)
        first = self.first_point()
        if first is None:
            return None
        now = as_utc(now)
        if self.schedule == "@once":
            return None if last_logical_date is not None else PlannedRun(first, first, first)
        begin = first if last_logical_date is None else self.point_after(last_logical_date)
        if not self.catchup:
            latest = self._latest_ended_start(now, first)
            if latest is not None and latest > begin:
                begin = latest
        if self.end_date is not None and begin > as_utc(self.end_date):
            return None
        end = self.point_after(begin)
        return PlannedRun(begin, end, end)

    def _continuous_run(
        self, last_logical_date: dt.datetime | None, last_end: dt.datetime | None, now: dt.datetime
    ) -> PlannedRun | None:
        """The next run of "@continuous" (Airflow's ContinuousTimetable): it covers from the
        last run's interval end to now and is due at once (the first: from start_date, or
        now without one). That only one runs at a time is the run creator's part."""
        now = as_utc(now)
        start_date = now if self.start_date is None else self._start()
        if last_logical_date is None:
            start, end = start_date, max(start_date, now)
        else:
            previous_start = as_utc(last_logical_date)
            previous_end = previous_start if last_end is None else as_utc(last_end)
            if previous_end > now:  # a start_date in the future: Airflow's rule, kept
                start, end = start_date, start_date + (previous_end - previous_start)
            else:
                start, end = previous_end, now
        if self.end_date is not None and end > as_utc(self.end_date):
            return None
        return PlannedRun(start, end, end)

    def _latest_ended_start(self, now: dt.datetime, first: dt.datetime) -> dt.datetime | None:
        """The start of the latest interval that ended by `now` (within end_date), if any."""
        limit = now
        if self.end_date is not None:
            last_start = self.point_at_or_before(as_utc(self.end_date))
            if last_start is None or last_start < first:
                return None
            limit = min(limit, self.point_after(last_start))
        end = self.point_at_or_before(limit)
        if end is None or end <= first:
            return None
        start = self.point_at_or_before(end - TICK)
        return start if start is not None and start >= first else None

    def runs_between(self, earliest: dt.datetime, latest: dt.datetime) -> list[PlannedRun]:
        """Every run whose logical date is in [earliest, latest] and within start/end_date.

        For backfills; raises ScheduleError for a DAG without a schedule or a
        range of more than MAX_RUNS_BETWEEN runs.
        """
        if self.table is not None:
            return self._table_runs_between(self.table, earliest, latest)
        if self.schedule == CONTINUOUS:
            raise ScheduleError(
                "a '@continuous' DAG has no intervals to backfill (each run covers the time "
                "since the last one); use `taskkit dags trigger` for a run of your own."
            )
        first = self.first_point()
        if self.schedule is None or first is None:
            raise ScheduleError(
                "the DAG has no schedule (or no start_date), so it has no intervals to "
                "backfill; use `taskkit dags trigger` for manual runs."
            )
        earliest, latest = max(as_utc(earliest), first), as_utc(latest)
        if self.end_date is not None:
            latest = min(latest, as_utc(self.end_date))
        if self.schedule == "@once":
            return [PlannedRun(first, first, first)] if earliest <= first <= latest else []
        runs: list[PlannedRun] = []
        begin = self.point_after(earliest - TICK)
        while begin <= latest:
            if len(runs) >= MAX_RUNS_BETWEEN:
                raise ScheduleError(
                    f"more than {MAX_RUNS_BETWEEN} runs between {earliest} and {latest}; "
                    "backfill a shorter range at a time."
                )
            end = self.point_after(begin)
            runs.append(PlannedRun(begin, end, end))
            begin = end
        return runs

    def _table_runs_between(
        self, table: AnyTimetable, earliest: dt.datetime, latest: dt.datetime
    ) -> list[PlannedRun]:
        """A timetable object's runs due in [earliest, latest], as Airflow's backfill walks them."""
        start, end = as_utc(earliest), as_utc(latest)
        if self.start_date is not None:
            start = max(start, as_utc(self.start_date))
        if self.end_date is not None:
            end = min(end, as_utc(self.end_date))
        window = Window(start, end, catchup=True)
        runs: list[PlannedRun] = []
        planned = next_planned(table, window, None, start)
        while planned is not None:
            if len(runs) >= MAX_RUNS_BETWEEN:
                raise ScheduleError(
                    f"more than {MAX_RUNS_BETWEEN} runs between {earliest} and {latest}; "
                    "backfill a shorter range at a time."
                )
            runs.append(planned)
            planned = next_planned(table, window, planned.logical_date, start)
        return runs

    def manual_interval(self, logical_date: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The data interval of a run triggered by hand for `logical_date` (Airflow's
        infer_manual_data_interval). Cron strings and timedeltas schedule data intervals
        here, so they give the last complete interval (cron) or the delta before it;
        no schedule, "@once" and assets give [logical_date, logical_date]."""
        when = as_utc(logical_date)
        if self.table is not None:
            return manual_interval(self.table, when)
        if isinstance(self.schedule, dt.timedelta):
            return when - self.schedule, when
        if self._cron is None:  # None, "@once" (and assets, which Timetable.of drops)
            return when, when
        end = self._cron_step(when + TICK, forward=False)
        return self._cron_step(end, forward=False), end

    def previous_point(self, logical_date: dt.datetime) -> dt.datetime | None:
        """The schedule point before a run's `logical_date`: Airflow 2's `prev_execution_date`.

        As Airflow 2's `DAG.previous_schedule`: only schedules of data intervals
        have one (cron strings and presets, timedeltas, CronDataIntervalTimetable,
        DeltaDataIntervalTimetable): a cron's last point strictly before the date,
        or the date less the delta. None for the others (no schedule, "@once",
        the trigger and events timetables).
        """
        when = as_utc(logical_date)
        schedule = self.schedule
        if isinstance(schedule, CronDataIntervalTimetable):
            return cron_before(schedule.expression, schedule.timezone, when)
        if isinstance(schedule, DeltaDataIntervalTimetable):
            return as_utc(when - schedule.delta)
        if isinstance(schedule, dt.timedelta):
            return when - schedule
        if self._cron is None:  # None, "@once", a timetable object
            return None
        return self._cron_step(when, forward=False)

    def following(self, logical_date: dt.datetime) -> PlannedRun | None:
        """The scheduled run after the one at `logical_date`, whatever the start/end dates.

        For LatestOnlyOperator: None when the schedule has no run after it
        (no schedule, "@once", "@continuous", the last event).
        """
        if self.table is not None:
            window = Window(None, None, catchup=True)
            return next_planned(self.table, window, logical_date, logical_date)
        if self.schedule is None or self.schedule in {"@once", CONTINUOUS}:
            return None
        start = as_utc(logical_date).astimezone(self.zone)
        anchored = attrs.evolve(self, start_date=start, end_date=None, catchup=True)
        return anchored.next_run(logical_date, logical_date)
