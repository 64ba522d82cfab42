"""DateTimeTrigger and TimeDeltaTrigger: fire at a moment (Airflow's temporal triggers)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from taskkit.triggers.base import BaseTrigger, TriggerEvent

#: The longest single sleep: the loop re-reads the clock at least this often (clock changes).
_MAX_SLEEP_S = 3600.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DateTimeTrigger(BaseTrigger):
    """Fires at `moment` (an aware datetime); its event's payload is the moment."""

    def __init__(self, moment: dt.datetime, *, end_from_trigger: bool = False) -> None:
        super().__init__()
        if not isinstance(moment, dt.datetime):
            raise TypeError(f"DateTimeTrigger: moment must be a datetime, got {moment!r}.")
        if moment.tzinfo is None:
            raise ValueError(
                f"DateTimeTrigger: moment {moment.isoformat()} has no time zone; pass an aware "
                "datetime (e.g. taskkit.timezone.datetime(...))."
            )
        if end_from_trigger:
            raise ValueError(
                "DateTimeTrigger: end_from_trigger is not supported; the task resumes instead."
            )
        self.moment = moment

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return "taskkit.triggers.temporal.DateTimeTrigger", {"moment": self.moment}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while (left := (self.moment - _utcnow()).total_seconds()) > 0:
            await asyncio.sleep(min(left, _MAX_SLEEP_S))
        yield TriggerEvent(self.moment)


class TimeDeltaTrigger(DateTimeTrigger):
    """Fires `delta` after it was created (serialized as the DateTimeTrigger of that moment)."""

    def __init__(self, delta: dt.timedelta, *, end_from_trigger: bool = False) -> None:
        if not isinstance(delta, dt.timedelta):
            raise TypeError(f"TimeDeltaTrigger: delta must be a timedelta, got {delta!r}.")
        super().__init__(_utcnow() + delta, end_from_trigger=end_from_trigger)
