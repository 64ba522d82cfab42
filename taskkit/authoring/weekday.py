"""WeekDay: the days of the week as ISO numbers, and what a week_day argument means."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class WeekDay(enum.IntEnum):
    """Days of the week, numbered as `date.isoweekday()` numbers them."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def convert(cls, day: str | WeekDay) -> WeekDay:
        """A WeekDay from itself or its full name in any case ("Sunday")."""
        if isinstance(day, WeekDay):
            return day
        if isinstance(day, str) and day.upper() in cls.__members__:
            return cls[day.upper()]
        raise ValueError(
            f"{day!r} is not a day of the week; use a full name such as 'Monday' or a WeekDay."
        )

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[WeekDay]:
        """The set of days a `week_day` argument names: one day, or an iterable of days."""
        if isinstance(week_day, (str, WeekDay)):
            return {cls.convert(week_day)}
        if not isinstance(week_day, Iterable):
            raise ValueError(
                f"week_day must be a day name, a WeekDay or a set of them, got {week_day!r}."
            )
        return {cls.convert(day) for day in week_day}
