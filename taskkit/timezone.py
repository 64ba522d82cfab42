"""`taskkit.timezone`: Airflow's time zone helpers (`from airflow.utils import timezone`).

taskkit's default time zone is UTC, as Airflow's `core.default_timezone`
is by default: naive datetimes are taken to be UTC. Any aware datetime
works wherever taskkit takes one, pendulum's included (a `datetime`
subclass); pendulum itself is not needed.
"""

from __future__ import annotations

import datetime as dt

utc = dt.timezone.utc


def utcnow() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(utc)


def days_ago(
    n: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> dt.datetime:
    """Today at `hour:minute:second` UTC, `n` days back: Airflow 2's `airflow.utils.dates.days_ago`.

    Airflow 3 removed it (a start date that moves each day confuses
    catchup); it is kept so Airflow 2 DAG files port with only their
    imports changed. Prefer a fixed `start_date`.
    """
    today = utcnow().replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    return today - dt.timedelta(days=n)


def datetime(*args: int, **kwargs: object) -> dt.datetime:
    """`datetime.datetime(...)`, in UTC unless `tzinfo=` says otherwise."""
    kwargs.setdefault("tzinfo", utc)
    return dt.datetime(*args, **kwargs)  # type: ignore[arg-type]


def is_localized(value: dt.datetime) -> bool:
    """Whether `value` is aware (has a time zone with an offset)."""
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    """Whether `value` has no time zone."""
    return value.utcoffset() is None


def make_aware(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """A naive datetime read in `timezone` (default UTC); an aware one is returned as is."""
    if is_localized(value):
        return value
    return value.replace(tzinfo=timezone or utc)


def make_naive(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """An aware datetime as naive wall-clock time in `timezone` (default UTC)."""
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(timezone or utc).replace(tzinfo=None)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """`value` in UTC; a naive one is taken to be UTC already. None stays None."""
    if value is None:
        return None
    return make_aware(value).astimezone(utc)


def coerce_datetime(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime from any datetime (naive ones are UTC); None stays None."""
    return None if value is None else make_aware(value)


def parse(string: str, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """An ISO 8601 date or datetime string as an aware datetime.

    A string without an offset is read in `timezone` (default UTC); "Z" is UTC.
    """
    text = string.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"Cannot parse {string!r} as a date or time; use ISO 8601, e.g. "
            "2026-01-01 or 2026-01-01T06:00:00+00:00."
        ) from None
    return make_aware(value, timezone)
