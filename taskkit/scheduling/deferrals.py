"""The scheduler's side of deferral: collect fired triggers, resume their tries, count pools.

The triggerer writes only trigger rows (ADR 0009). Each refresh the
scheduler reads the fired ones, moves their deferred task instances back to
scheduled (the same try resumes with the event, or fails with the trigger's
error) and deletes the rows it used; task states stay its alone (ADR 0001).
Fired triggers are read with the scheduler's refresh (every 0.5 s), so a
resumed task waits at most that long for its slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog

from taskkit.scheduling.engine import Transition, resumed_with
from taskkit.states import State

if TYPE_CHECKING:
    from taskkit.metastore.store import Metastore
    from taskkit.scheduling.active_run import ActiveRun
    from taskkit.scheduling.selection import Occupancy

log = structlog.get_logger(__name__)


def collect_fired(
    store: Metastore, runs: dict[tuple[str, str], ActiveRun]
) -> Iterator[tuple[ActiveRun, Transition, int]]:
    """Resume the tries whose triggers fired: each run, its transition and the trigger's id.

    The caller records the transitions, commits, then deletes the triggers.
    Rows of instances that no longer wait on them are left to the triggerer,
    which removes stale rows.
    """
    fired = store.list_fired_triggers()
    if not fired:
        return
    for trigger in fired:
        key = trigger.ti
        run = runs.get((key.dag_id, key.run_id))
        if run is None:
            continue  # not held (finished, or another scheduler's): left for the triggerer
        ti = run.engine.tis.get((key.task_id, key.map_index))
        if ti is None or ti.state is not State.DEFERRED or ti.try_number != trigger.try_number:
            continue
        method, kwargs = resumed_with(ti.next_method, ti.next_kwargs, trigger.event, trigger.error)
        change = run.engine.resume(key.task_id, method, kwargs, map_index=key.map_index)
        log.info(
            "trigger_fired" if trigger.error is None else "trigger_failed",
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            error=trigger.error,
        )
        yield run, change, trigger.id


def track_deferred(occupancy: Occupancy, run: ActiveRun, change: Transition) -> bool:
    """Keep the pool slots of deferred task instances counted (for include_deferred pools).

    True when the change defers a task instance (a triggerer is needed).
    """
    if change.target is not State.DEFERRED and change.source is not State.DEFERRED:
        return False
    spec = run.spec.tasks[change.task_id]
    if change.target is State.DEFERRED:
        occupancy.defer(spec.pool, spec.pool_slots)
        return True
    occupancy.undefer(spec.pool, spec.pool_slots)
    return False
