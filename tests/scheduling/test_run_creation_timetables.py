"""The run creator creates the run it planned, so a timetable's point is never lost to lateness."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from taskkit import DAG, EmptyOperator, EventsTimetable
from taskkit.metastore import Metastore
from taskkit.model.dag import DagSpec
from taskkit.scheduling.dag_flags import DagFlagBook
from taskkit.scheduling.run_creation import RunCreator

T0 = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)


def test_an_event_planned_ahead_runs_even_when_the_refresh_comes_late(
    metastore: Metastore,
) -> None:
    """Planned anew at 11:30:05, the 11:30 event would be "past" and skipped (catchup=False)."""
    events = EventsTimetable([T0 + HOUR, T0 + 2 * HOUR])
    with DAG("events", schedule=events, start_date=T0 - HOUR, catchup=False) as d:
        EmptyOperator(task_id="noop")
    spec: DagSpec = d.spec
    metastore.save_dag_version("events", "/dags/e.py", b"p", "hash", "sig", schedule_desc="ev")
    creator, book = RunCreator(metastore), DagFlagBook()

    def refresh(now: dt.datetime) -> list[dt.datetime]:
        creator.create_due_runs(
            book.flags,
            book.refresh(metastore, now),
            waiting=Counter(),
            spec_of=lambda _version: spec,
            default_max_active_runs=16,
            now=now,
        )
        return sorted(r.logical_date for r in metastore.list_runs("events"))

    assert refresh(T0) == []
    assert refresh(T0 + HOUR + dt.timedelta(seconds=5)) == [T0 + HOUR]
    # Paused past the second event and unpaused: planned afresh, a past event is skipped.
    metastore.set_paused("events", True)
    refresh(T0 + HOUR + dt.timedelta(seconds=10))
    metastore.set_paused("events", False)
    assert refresh(T0 + 3 * HOUR) == [T0 + HOUR]
