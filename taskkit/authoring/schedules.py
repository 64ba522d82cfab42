"""Checks a DAG's schedule when it is defined, so a bad one is an import error, not a surprise."""

from __future__ import annotations

import datetime as dt
from typing import Any

from taskkit.errors import AssetDefinitionError, ScheduleError
from taskkit.model.assets import AssetOrTimeSchedule, BaseAsset, as_condition, asset_condition
from taskkit.model.schedules import CONTINUOUS, PRESETS
from taskkit.model.timetables import (
    TIMETABLES,
    DeltaDataIntervalTimetable,
    Schedule,
    is_relativedelta,
)


def validate_schedule(
    dag_id: str,
    schedule: object,
    start_date: dt.datetime | None,
    end_date: dt.datetime | None,
) -> Schedule:
    """Return the schedule unchanged if it can produce runs, else raise ScheduleError.

    A relativedelta becomes DeltaDataIntervalTimetable(delta), as Airflow
    reads `schedule=relativedelta(months=1)`: calendar steps, not a fixed length.
    """
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None and not isinstance(value, dt.datetime):
            raise ScheduleError(
                f"DAG {dag_id!r}: {name} must be a datetime.datetime, got {value!r}."
            )
    if start_date and end_date and _aware(end_date) < _aware(start_date):
        raise ScheduleError(
            f"DAG {dag_id!r}: end_date {end_date} is before start_date {start_date}; "
            "swap them or remove end_date."
        )
    if isinstance(schedule, BaseAsset | list | tuple | AssetOrTimeSchedule):
        return _asset_schedule(dag_id, schedule, start_date, end_date)
    if schedule is None or isinstance(schedule, TIMETABLES):
        return schedule  # a timetable object checked its own arguments when it was made
    if isinstance(schedule, dt.timedelta) or is_relativedelta(schedule):
        return _delta_schedule(dag_id, schedule)
    if not isinstance(schedule, str):
        raise ScheduleError(
            f"DAG {dag_id!r}: schedule must be None, a preset, a cron string, a timedelta "
            "or relativedelta, "
            f"or a timetable (CronTriggerTimetable, EventsTimetable, ...), or assets "
            f"([Asset(...)], a & b, a | b); got {schedule!r}."
        )
    if schedule.startswith("@"):
        if schedule not in PRESETS:
            raise ScheduleError(
                f"DAG {dag_id!r}: unknown schedule preset {schedule!r}; "
                f"use one of {', '.join(PRESETS)}, a cron string or a timedelta."
            )
        return schedule
    # Lazy: croniter (~40 ms) only for cron strings, so `import taskkit` stays light.
    from croniter import croniter

    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise ScheduleError(
            f"DAG {dag_id!r}: {schedule!r} is not a valid 5-field cron expression "
            "(minute hour day-of-month month day-of-week), e.g. '30 2 * * *'."
        )
    return schedule


def _delta_schedule(dag_id: str, schedule: Any) -> Schedule:
    if is_relativedelta(schedule):
        try:
            return DeltaDataIntervalTimetable(schedule)
        except ScheduleError as exc:
            raise ScheduleError(f"DAG {dag_id!r}: schedule: {exc}") from None
    assert isinstance(schedule, dt.timedelta)
    if schedule <= dt.timedelta(0):
        raise ScheduleError(
            f"DAG {dag_id!r}: a timedelta schedule must be positive, got {schedule}."
        )
    return schedule


def _asset_schedule(
    dag_id: str,
    schedule: BaseAsset | list[object] | tuple[object, ...] | AssetOrTimeSchedule,
    start_date: dt.datetime | None,
    end_date: dt.datetime | None,
) -> Schedule:
    """An asset condition (a list means all of them), or assets-or-time with a valid timetable."""
    if isinstance(schedule, AssetOrTimeSchedule):
        if schedule.timetable == CONTINUOUS:
            raise ScheduleError(
                f"DAG {dag_id!r}: AssetOrTimeSchedule cannot run '@continuous' (that already "
                "runs whenever the last run ended); use schedule='@continuous' alone, or a "
                "timetable."
            )
        timetable = validate_schedule(dag_id, schedule.timetable, start_date, end_date)
        return AssetOrTimeSchedule(timetable=timetable, assets=schedule.assets)
    try:
        return as_condition(schedule)
    except AssetDefinitionError as exc:
        raise AssetDefinitionError(f"DAG {dag_id!r}: schedule: {exc}") from None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def watcher_warnings(dag_id: str, schedule: Schedule) -> list[str]:
    """One line per scheduled-on asset with watchers: taskkit does not run them yet."""
    condition = asset_condition(schedule)
    return [
        f"DAG {dag_id!r}: asset {asset.uri!r} has watchers (AssetWatcher), which taskkit "
        "does not run yet; the DAG runs on the asset's events from producing tasks only."
        for asset in (condition.iter_assets() if condition is not None else ())
        if asset.watchers
    ]
