"""The timetable tests' question: is a run due at `now`?"""

from __future__ import annotations

import datetime as dt

from taskkit.scheduling.cron import as_utc
from taskkit.scheduling.timetable import PlannedRun, Timetable


def due_run(
    table: Timetable, last_logical_date: dt.datetime | None, now: dt.datetime
) -> PlannedRun | None:
    """The next run if it may be created at `now` (its interval has ended), else None: the
    check RunCreator makes on the run it planned."""
    planned = table.next_run(last_logical_date, now)
    return planned if planned is not None and planned.run_after <= as_utc(now) else None
