"""`WeekDay`: ISO day numbers by name, and reading Airflow's `week_day` arguments."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from taskkit.errors import InvalidTaskParameterError


class WeekDay(enum.IntEnum):
    """Days of the week as `datetime.isoweekday()` numbers them (Monday is 1), as in Airflow."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> WeekDay:
        """The day named `week_day_str` ("Sunday", "sunday"); InvalidTaskParameterError if none."""
        member = cls.__members__.get(week_day_str.upper())
        if member is None:
            raise InvalidTaskParameterError(
                f"week_day {week_day_str!r} is not a day of the week; use a full English "
                "name such as 'Monday', or WeekDay.MONDAY."
            )
        return member

    @classmethod
    def convert(cls, day: str | WeekDay) -> WeekDay:
        """A WeekDay from a member or a day's name."""
        return day if isinstance(day, WeekDay) else cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[WeekDay]:
        """The set of days `week_day` names: one day, or any iterable of days."""
        if isinstance(week_day, (str, WeekDay)):
            week_day = [week_day]
        if not isinstance(week_day, Iterable):
            raise InvalidTaskParameterError(
                f"week_day must be a day's name, a WeekDay, or a set of them, got {week_day!r}."
            )
        days = list(week_day)
        for day in days:
            if not isinstance(day, (str, WeekDay)):
                raise InvalidTaskParameterError(
                    f"week_day holds {day!r}; use day names such as 'Monday' or WeekDay members."
                )
        return {cls.convert(day) for day in days}
