"""Start-up recovery: tries a dead scheduler left queued or running are rerun, once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from taskkit.metastore.records import TIChange
from taskkit.states import State

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from taskkit.execution.base import Executor
    from taskkit.metastore.records import TaskInstanceRecord
    from taskkit.metastore.store import Metastore

log = structlog.get_logger(__name__)


def recover_orphaned_tries(store: Metastore, executor: Executor) -> int:
    """Put tries a dead predecessor left queued or running back to scheduled; returns how many.

    The caller holds the scheduler lease, so every queued or running task
    instance is an orphan: its process died with the old scheduler (whose
    zygote killed its children). It reruns as a new try, and max_tries grows
    by one so the crash does not eat one of the task's retries. Succeeded
    tasks are never touched. An executor whose tries outlive the scheduler
    (Celery workers) may adopt some instead: those are left as they are.
    """
    orphans = store.list_active_task_instances(occupying_only=True)
    return reset_orphans(store, executor.adopt(orphans))


def adopt_inherited_tries(
    store: Metastore, executor: Executor, run_ids: Iterable[int], previous: Sequence[int]
) -> int:
    """Tries of runs inherited from the dead schedulers `previous`: adopted, or reset.

    The executor takes over those still running on workers (reading the dead
    schedulers' channels); the others go back to scheduled, as at start-up.
    Returns how many were reset.
    """
    runs = set(run_ids)
    tries = [
        ti for ti in store.list_active_task_instances(occupying_only=True) if ti.dag_run_id in runs
    ]
    return reset_orphans(store, executor.adopt(tries, previous))


def reset_orphans(store: Metastore, orphans: Sequence[TaskInstanceRecord]) -> int:
    """Put orphaned tries back to scheduled without spending a try; returns how many."""
    if not orphans:
        return 0
    changes = [
        TIChange(
            ti.key,
            expected=ti.state,
            state=State.SCHEDULED,
            # A sensor between pokes, or a resuming deferred try, goes on: it needs no extra try.
            max_tries=ti.max_tries + (ti.first_poke_at is None and ti.next_method is None),
            pid=None,
            hostname=None,
            wait_reason="reset after the previous scheduler died mid-try",
        )
        for ti in orphans
    ]
    count = sum(store.transition_task_instances(changes))
    log.warning("orphaned_tries_reset", count=count)
    return count
