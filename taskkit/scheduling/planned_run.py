"""PURE: one run a schedule plans, the value every timetable produces."""

from __future__ import annotations

import datetime as dt

import attrs


@attrs.frozen
class PlannedRun:
    """One scheduled run: its data interval and the earliest time it may be created."""

    logical_date: dt.datetime
    data_interval_end: dt.datetime
    run_after: dt.datetime

    @property
    def data_interval(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of the data this run covers; start is the logical date."""
        return self.logical_date, self.data_interval_end

    @property
    def run_id(self) -> str:
        """The run id a scheduled run of this interval gets."""
        return f"scheduled__{self.logical_date.isoformat()}"
