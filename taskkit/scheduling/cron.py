"""PURE: stepping through a cron expression's points on a zone's wall clock, DST-safe.

A wall time that does not exist (spring forward) fires when the clocks
jump, like cron; a wall time that happens twice (fall back) fires once, at
its first occurrence, unless the hour field is `*`: then every real hour
fires, both repeats included, since each covers a different hour of data.
"""

from __future__ import annotations

import datetime as dt

UTC = dt.timezone.utc
TICK = dt.timedelta(microseconds=1)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def cron_after(expression: str, zone: dt.tzinfo, moment: dt.datetime) -> dt.datetime:
    """The first point of `expression` strictly after `moment`, in UTC."""
    return _step(expression, zone, as_utc(moment), forward=True)


def cron_before(expression: str, zone: dt.tzinfo, moment: dt.datetime) -> dt.datetime:
    """The last point of `expression` strictly before `moment`, in UTC."""
    return _step(expression, zone, as_utc(moment), forward=False)


def _step(expression: str, zone: dt.tzinfo, moment: dt.datetime, *, forward: bool) -> dt.datetime:
    # Lazy: croniter pulls in dateutil, decimal and random (~30 ms), which a DAG without a
    # cron schedule never needs; DAG.test() and `import taskkit` stay clear of it.
    from croniter import croniter

    every_hour = expression.split()[1] == "*"
    points = croniter(expression, moment.astimezone(zone))
    while True:
        found: dt.datetime = (
            points.get_next(dt.datetime) if forward else points.get_prev(dt.datetime)
        )
        found = as_utc(found)
        # croniter may hand a moment in a DST gap back as itself: keep strictness.
        beyond = (found > moment) if forward else (found < moment)
        if beyond and (every_hour or not _second_occurrence(found, zone)):
            return found


def _second_occurrence(moment: dt.datetime, zone: dt.tzinfo) -> bool:
    """Whether `moment` is the repeat of a wall time that happened an hour (or so) before."""
    local = moment.astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
