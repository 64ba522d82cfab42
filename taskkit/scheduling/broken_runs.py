"""Runs whose DAG version cannot be loaded fail alone, with the reason on each task.

A stored payload may fail its HMAC check (another key, an altered row) or
fail to unpickle (a module the DAG needs is gone). Such a version can never
run, so its runs fail; every other DAG keeps running.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import structlog

from taskkit.metastore.records import TIChange
from taskkit.states import FINISHED_STATES, RunState, State

if TYPE_CHECKING:
    from taskkit.metastore.records import RunRecord
    from taskkit.metastore.store import Metastore

log = structlog.get_logger("taskkit.scheduler")

_UNFINISHED = frozenset(State) - FINISHED_STATES


def fail_unloadable_run(store: Metastore, record: RunRecord, reason: str, now: dt.datetime) -> None:
    """Fail every unfinished task of the run with `reason`, then the run itself."""
    changes = [
        TIChange(ti.key, expected=_UNFINISHED, state=State.FAILED, ended_at=now, error=reason)
        for ti in store.list_task_instances(record.dag_id, record.run_id)
        if ti.state in _UNFINISHED
    ]
    if changes:
        store.transition_task_instances(changes, [])
    store.set_run_state(
        record.dag_id, record.run_id, RunState.FAILED, expected=[RunState.QUEUED, RunState.RUNNING]
    )
    log.error("run_failed_unloadable", dag_id=record.dag_id, run_id=record.run_id, reason=reason)
