"""One of several schedulers on a PostgreSQL metastore: its id, its runs, its turn to queue.

The scheduler loop stays what it is on SQLite; on PostgreSQL it asks its
`Member` three things: which runs it owns (claiming a fair share of the
unowned ones, after declaring dead the schedulers whose heartbeat went
stale), when it may queue (the critical section: one scheduler at a time,
never waiting), and what the whole metastore occupies while it does. The
decisions (how many runs to claim, the global occupancy, which of our tries
start when ranked with the other schedulers') are the pure functions below. See docs/distributed.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import math
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import attrs
import structlog

from taskkit.scheduling.selection import (
    Candidate,
    Occupancy,
    Selection,
    priority_key,
    select_tasks,
)

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore.records import RunRecord
    from taskkit.metastore.schedulers import CountsWanted, CriticalSection, Occupant, Reaped
    from taskkit.metastore.store import Metastore

log = structlog.get_logger(__name__)

#: How soon a scheduler that found the critical section busy tries again.
RETRY_TURN_S = 0.02


def shares_metastore(backend: str) -> bool:
    """Whether this scheduler runs beside others: on PostgreSQL, whatever the executor."""
    return backend == "postgresql"


def claim_quota(*, alive: int, active: int, unowned: int, mine: int) -> int:
    """How many unowned runs to claim now: up to a fair share of all active runs.

    Each of the `alive` schedulers aims at ceil(active / alive) runs, so the
    shares add up to at least every run: nothing stays unowned, and a new
    scheduler gets work as runs finish and new ones arrive.
    """
    if unowned <= 0:
        return 0
    share = math.ceil(active / max(alive, 1))
    return min(unowned, max(share - mine, 0))


def global_occupancy(
    occupants: Iterable[Occupant], deferred: Mapping[str, int] | None = None
) -> Occupancy:
    """What every scheduler's queued and running tries (and deferred instances, for the pools
    that count them) hold, as selection counts it."""
    occupancy = Occupancy()
    occupancy.deferred_per_pool.update(deferred or {})
    for o in occupants:
        occupancy.total += o.tries
        occupancy.per_dag[o.dag_id] += o.tries
        occupancy.per_task[o.dag_id, o.task_id] += o.tries
        occupancy.per_pool[o.pool] += o.slots
        occupancy.per_run_task[o.dag_id, o.run_id, o.task_id] += o.tries
    return occupancy


def select_across(
    own: list[Candidate],
    others: list[Candidate],
    *,
    pools: Mapping[str, int],
    parallelism: int,
    capacity_left: int,
    occupancy: Occupancy,
    explain: bool,
    include_deferred: frozenset[str],
) -> Selection:
    """Select as if every scheduler's scheduled tries were one queue; keep only ours.

    Priorities order the work across schedulers: another scheduler's try that
    outranks ours is selected here too, so the slots it would take stay free
    for its owner's turn (milliseconds later) instead of going to our lower
    ones. Of ours, at most `capacity_left` start (this executor's free slots);
    the rest stay scheduled for the next turn.
    """
    theirs = {candidate.key for candidate in others}
    # Ours come in priority order and theirs are at most parallelism: a merge read only
    # as far as selection goes, not a sort (and a set) of every candidate we have.
    ordered = (
        heapq.merge(own, sorted(others, key=priority_key), key=priority_key) if others else own
    )
    selection = select_tasks(
        ordered,
        pools=pools,
        parallelism=parallelism,
        occupancy=occupancy,
        presorted=True,
        explain=explain,
        include_deferred=include_deferred,
    )
    return Selection(
        start=[c for c in selection.start if c.key not in theirs][: max(capacity_left, 0)],
        reject=[(c, reason) for c, reason in selection.reject if c.key not in theirs],
        waits={key: wait for key, wait in selection.waits.items() if key not in theirs},
    )


@attrs.define
class Member:
    """This scheduler's row in the `scheduler` table and the calls that keep it true."""

    store: Metastore
    id: int
    threshold: dt.timedelta
    #: The last attempt found the critical section busy: try again soon, not at the next event.
    missed_turn: bool = False
    #: Set when tries outlive their scheduler (Celery): a dead scheduler's runs are taken
    #: over as they are, and this adopts their tries (resetting those it cannot vouch for).
    inherit: Callable[[Reaped], None] | None = None

    @classmethod
    @contextlib.contextmanager
    def joined(
        cls,
        store: Metastore,
        settings: Settings,
        inherit: Callable[[Reaped], None] | None = None,
    ) -> Iterator[Member]:
        """Register this process for the block, holding its presence lock; fence `store`.

        From here on every write of `store` first proves this scheduler alive.
        """
        threshold = settings.scheduler.scheduler_health_check_threshold
        with store.registered_scheduler(socket.gethostname(), os.getpid()) as me:
            store.fence_writes(me, threshold)
            log.info("scheduler_registered", scheduler_id=me, threshold_s=threshold)
            yield cls(store, me, dt.timedelta(seconds=threshold), inherit=inherit)

    def owned_runs(self) -> list[RunRecord]:
        """Reap dead schedulers, claim a share of the unowned runs, list the runs we own."""
        reaped = self.store.reap_dead_schedulers(self.threshold, inherit=self.inherit is not None)
        if reaped.schedulers:
            log.warning(
                "schedulers_declared_dead",
                scheduler_ids=list(reaped.schedulers),
                runs_released=reaped.runs_released,
                tries_reset=reaped.tries_reset,
                runs_inherited=len(reaped.inherited),
                by=self.id,
            )
            if self.inherit is not None:
                self.inherit(reaped)
        alive, active, unowned = self.store.count_run_owners()
        if unowned:
            owned = self.store.list_owned_runs(self.id)
            quota = claim_quota(alive=alive, active=active, unowned=unowned, mine=len(owned))
            if self.store.claim_runs(self.id, quota):
                return self.store.list_owned_runs(self.id)
            return owned
        return self.store.list_owned_runs(self.id)

    def beat(self) -> None:
        """Stamp our heartbeat (SchedulerFencedError if we were declared dead)."""
        self.store.heartbeat_scheduler()

    @contextlib.contextmanager
    def section(self, wanted: CountsWanted | None = None) -> Iterator[CriticalSection | None]:
        """The queueing critical section, or None if another scheduler holds it (skip a turn)."""
        with self.store.queueing_section(wanted) as section:
            self.missed_turn = section is None
            yield section

    def poll_timeout(self, timeout: float) -> float:
        """How long the loop may wait for events: not long after a missed turn."""
        missed, self.missed_turn = self.missed_turn, False
        return min(timeout, RETRY_TURN_S) if missed else timeout

    def leave(self) -> None:
        """A clean stop: release our runs (resetting any try left behind) and say so."""
        self.store.stop_scheduler(self.id)
        log.info("scheduler_stopped", scheduler_id=self.id)
