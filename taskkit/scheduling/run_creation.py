"""Creating scheduled runs as their intervals end, from an in-memory plan per DAG.

The scheduler refreshes twice a second. A refresh must cost nothing for the
DAGs that are not due, so each DAG's next due time is kept here, in a heap,
and only the DAGs whose flags changed or whose time came are looked at: with
10,000 DAGs up to date a refresh does no per-DAG work at all.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import attrs
import structlog

from taskkit.errors import DagVersionUnloadableError, DuplicateRunError
from taskkit.model.schedules import CONTINUOUS
from taskkit.scheduling.timetable import PlannedRun, Timetable
from taskkit.states import RunType

if TYPE_CHECKING:
    from taskkit.metastore.records import DagFlags, RunRecord
    from taskkit.metastore.store import Metastore
    from taskkit.model.dag import DagSpec
    from taskkit.scheduling.active_run import ActiveRun

log = structlog.get_logger(__name__)

#: At most this many runs of one DAG are created per refresh: catchup is quick
#: (30 intervals behind take a couple of refreshes) but never a flood.
MAX_RUNS_PER_REFRESH = 8


@attrs.define
class _Plan:
    """What the scheduler knows about one DAG's schedule between refreshes."""

    version_id: int
    timetable: Timetable
    last: dt.datetime | None
    next: PlannedRun | None
    #: Set while the DAG is paused or inactive: its next run is planned afresh when it is back.
    stale: bool = False


@attrs.define
class RunCreator:
    """Creates each DAG's due scheduled runs, oldest first, a bounded number per refresh."""

    store: Metastore
    plans: dict[str, _Plan] = attrs.Factory(dict)
    _latest: dict[str, dt.datetime] | None = None
    #: (next_run, next_run_after) as the metastore has them, so unchanged ones aren't rewritten.
    _published: dict[str, tuple[dt.datetime | None, dt.datetime | None]] | None = None
    #: Versions already reported as unloadable, so each is logged once, not every refresh.
    _unloadable: set[int] = attrs.Factory(set)
    #: (run_after, dag_id) of each planned next run; entries of plans that moved are stale
    #: and cost one `due` check when they come up.
    _due_heap: list[tuple[dt.datetime, str]] = attrs.Factory(list)

    def create_due_runs(
        self,
        dags: Mapping[str, DagFlags],
        changed: Iterable[str],
        *,
        waiting: Counter[str],
        spec_of: Callable[[int], DagSpec],
        default_max_active_runs: int,
        now: dt.datetime,
    ) -> None:
        """Create the due runs of the DAGs that changed or whose next run came due.

        The work grows with those DAGs, not with all DAGs: the next due time of
        every planned DAG waits in a heap. `waiting` counts each DAG's queued
        runs: a DAG never gets more than max_active_runs runs waiting to start.
        """
        candidates = set(changed)
        while self._due_heap and self._due_heap[0][0] <= now:
            candidates.add(heapq.heappop(self._due_heap)[1])
        for dag_id in sorted(candidates):
            dag = dags.get(dag_id)
            if dag is None or not dag.is_active or dag.is_paused:
                if (plan := self.plans.get(dag_id)) is not None:
                    plan.stale = True  # planned afresh when it is back
                continue  # a change of these flags makes it a candidate again
            if dag.current_version_id is None:
                continue
            if not self.due(dag, now):
                self._wake_for_next(dag_id)  # its heap entry may have gone while paused
                continue
            limit = dag.max_active_runs or default_max_active_runs
            try:
                spec = spec_of(dag.current_version_id)
            except DagVersionUnloadableError as exc:  # that DAG gets no new runs; others do
                self._warn_unloadable(dag.dag_id, dag.current_version_id, str(exc))
                continue
            room = limit - waiting[dag.dag_id]
            waiting[dag.dag_id] += self.create_due(
                dag, dag.current_version_id, spec, room=room, now=now
            )

    def _warn_unloadable(self, dag_id: str, version_id: int, reason: str) -> None:
        if version_id not in self._unloadable:
            self._unloadable.add(version_id)
            log.error("dag_version_unloadable", dag_id=dag_id, reason=reason)

    def due(self, dag: DagFlags, now: dt.datetime) -> bool:
        """Whether the DAG may have a run to create now; False costs no query."""
        plan = self.plans.get(dag.dag_id)
        if plan is None or plan.version_id != dag.current_version_id:
            return True  # not planned yet, or a new version: plan it (create_due does)
        return plan.next is not None and plan.next.run_after <= now

    def create_due(
        self, dag: DagFlags, version_id: int, spec: DagSpec, *, room: int, now: dt.datetime
    ) -> int:
        """Create up to `room` (at most MAX_RUNS_PER_REFRESH) due runs of the DAG; return how many.

        Each run is its own transaction. An interval that already has a run
        (a backfill of it) is skipped. Keeps dag.next_run in the metastore
        up to date.
        """
        plan = self._plan(dag, version_id, spec, now)
        if plan.timetable.schedule == CONTINUOUS:
            return self._create_continuous(dag.dag_id, version_id, spec, plan, now)
        created = 0
        while created < min(room, MAX_RUNS_PER_REFRESH):
            due = plan.next
            if due is None or due.run_after > now:
                break
            plan.last = due.logical_date
            if self._create(dag.dag_id, version_id, spec, due):
                created += 1
            plan.next = plan.timetable.next_run(plan.last, now)
        self._publish(dag.dag_id, plan.next)
        self._wake_for_next(dag.dag_id)  # if still due (no room left): the next refresh
        return created

    def _create_continuous(
        self, dag_id: str, version_id: int, spec: DagSpec, plan: _Plan, now: dt.datetime
    ) -> int:
        """A "@continuous" DAG's next run, once it has no active run (Airflow's rule: one at
        a time, backfills aside), covering from its last scheduled run's interval end to now.

        Both are read from the metastore each time, so several schedulers agree: two
        that create it at once make the same run, and the second finds it exists. Until
        end_date the DAG stays due, so each refresh looks again.
        """
        created = 0
        if not self.store.has_active_runs(dag_id):
            last = self.store.latest_scheduled_run(dag_id)
            due = (
                plan.timetable.next_run(None, now)
                if last is None
                else plan.timetable.next_run(
                    last.logical_date, now, last_end=last.data_interval_end
                )
            )
            plan.next = due
            if due is not None and due.run_after <= now:
                created = int(self._create(dag_id, version_id, spec, due))
                plan.last = due.logical_date
                plan.next = plan.timetable.next_run(
                    due.logical_date, now, last_end=due.data_interval_end
                )
        self._publish(dag_id, plan.next)
        self._wake_for_next(dag_id)
        return created

    def _wake_for_next(self, dag_id: str) -> None:
        """Make the DAG a candidate again when its planned next run comes due."""
        plan = self.plans.get(dag_id)
        if plan is not None and plan.next is not None:
            heapq.heappush(self._due_heap, (plan.next.run_after, dag_id))

    def _plan(self, dag: DagFlags, version_id: int, spec: DagSpec, now: dt.datetime) -> _Plan:
        plan = self.plans.get(dag.dag_id)
        if plan is None:
            if self._latest is None:  # once per scheduler: two queries for every DAG
                self._latest = self.store.latest_scheduled_dates()
                self._published = {
                    d.dag_id: (d.next_run, d.next_run_after)
                    for d in self.store.list_dags(include_inactive=True)
                }
            last = self._latest.get(dag.dag_id)
            plan = _Plan(version_id, Timetable.of(spec), last, None)
            self.plans[dag.dag_id] = plan
        elif plan.version_id != version_id:
            plan.version_id, plan.timetable = version_id, Timetable.of(spec)
        elif not plan.stale and plan.next is not None:
            # Create the run planned earlier, as Airflow creates its stored next run: an
            # EventsTimetable or a DAG without start_date would skip it if planned anew now.
            return plan
        plan.next = plan.timetable.next_run(plan.last, now)
        plan.stale = False
        return plan

    def _create(self, dag_id: str, version_id: int, spec: DagSpec, due: PlannedRun) -> bool:
        try:
            self.store.create_run(
                dag_id,
                due.run_id,
                due.logical_date,
                run_type=RunType.SCHEDULED,
                dag_version_id=version_id,
                tasks=list(spec.tasks.values()),
                data_interval=due.data_interval,
            )
        except DuplicateRunError:
            log.info("run_exists", dag_id=dag_id, logical_date=due.logical_date.isoformat())
            return False
        log.info("run_created", dag_id=dag_id, logical_date=due.logical_date.isoformat())
        return True

    def _publish(self, dag_id: str, planned: PlannedRun | None) -> None:
        """Write the DAG's next run to the metastore when it differs from what is there.

        A parse (`sync_dags_folder`) writes the same value computed the same
        way, so the two never fight over it.
        """
        assert self._published is not None
        when = (planned.logical_date, planned.run_after) if planned else (None, None)
        if self._published.get(dag_id) != when:
            self.store.set_next_run(dag_id, *when)
            self._published[dag_id] = when


def held_back_backfills(
    queued: Iterable[RunRecord], running: Iterable[ActiveRun] | Iterable[RunRecord]
) -> set[tuple[str, str]]:
    """Queued backfill runs that must wait for their backfill's own max_active_runs.

    `dags backfill --max-active-runs N` stores N on each run it creates: a
    backfill run starts only while fewer than N backfill runs of its DAG
    run, oldest first. The DAG's own max_active_runs applies on top.
    """
    busy = Counter(r.dag_id for r in running if r.run_type == RunType.BACKFILL.value)
    held: set[tuple[str, str]] = set()
    waiting = sorted(
        (r for r in queued if r.run_type is RunType.BACKFILL and r.max_active_runs is not None),
        key=lambda r: (r.logical_date, r.id),
    )
    for record in waiting:
        assert record.max_active_runs is not None
        if busy[record.dag_id] >= record.max_active_runs:
            held.add((record.dag_id, record.run_id))
        else:
            busy[record.dag_id] += 1
    return held
