"""Several schedulers on one PostgreSQL metastore: registration, ownership, reaping, the lock.

Each scheduler has a row (`registered_scheduler`) whose heartbeat every one of
its writes stamps (the fence in units.py), and on PostgreSQL a presence lock the
server frees when its process dies. An active run is owned by one
scheduler (`dag_run.scheduler_id`); unowned runs are claimed with
`FOR UPDATE SKIP LOCKED`, so two schedulers never claim the same run and never
wait on each other. A scheduler whose heartbeat went stale is declared dead by
another, which puts that one's queued and running tries back to scheduled
(without spending a try) and releases its runs, in one transaction. Queueing
tries happens under a transaction-scoped advisory lock taken with
`pg_try_advisory_xact_lock`: a scheduler that finds it taken skips its turn.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator

import attrs
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from taskkit.metastore.records import RunRecord
from taskkit.metastore.runs import ACTIVE_RUN_STATES
from taskkit.metastore.tables import DagRunRow, SchedulerRow, TaskInstanceRow, as_aware_utc
from taskkit.metastore.units import (
    UnitOfWork,
    begun_pipeline,
    driver_errors,
    psycopg_of,
    rowcount,
)
from taskkit.states import OCCUPYING_STATES, RunState, SchedulerState, State

_RUN_COLUMNS = tuple(DagRunRow.__table__.c)
#: The advisory-lock class of the queueing critical section ("tq"); per schema, like the lease.
_QUEUE_LOCK_CLASS = 0x7471
_TRY_QUEUE_LOCK = "SELECT pg_try_advisory_xact_lock(%(cls)s, hashtext(current_schema()))"
#: Each scheduler holds this lock (per schema, per scheduler id) for as long as it lives: the
#: server frees it the moment the process dies, so a killed scheduler is known dead at once.
_PRESENCE_KEY = "hashtext(current_schema() || '.scheduler')"
_HOLD_PRESENCE = text(f"SELECT pg_advisory_lock({_PRESENCE_KEY}, :id)")
_DROP_PRESENCE = text(f"SELECT pg_advisory_unlock({_PRESENCE_KEY}, :id)")
_GONE = f"pg_try_advisory_xact_lock({_PRESENCE_KEY}, scheduler.id)"
#: What a reset try says, for `taskkit tasks why`.
RESET_REASON = "reset: the scheduler that queued it was declared dead"


@attrs.frozen
class SchedulerRecord:
    """One scheduler process and what it holds now."""

    id: int
    hostname: str
    pid: int
    state: SchedulerState
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    ended_at: dt.datetime | None
    runs: int = 0  #: active runs it owns
    queued: int = 0  #: queued tries of those runs
    running: int = 0  #: running tries of those runs


@attrs.frozen
class Occupant:
    """Queued and running tries of one task in one run, and the pool slots they hold."""

    dag_id: str
    run_id: str
    task_id: str
    pool: str
    tries: int
    slots: int


@attrs.frozen
class ScheduledElsewhere:
    """A scheduled task instance of a run another scheduler owns: what ranks it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    dag_version_id: int
    logical_date: dt.datetime
    run_pk: int


@attrs.frozen
class Reaped:
    """What declaring schedulers dead did."""

    schedulers: tuple[int, ...] = ()
    runs_released: int = 0
    tries_reset: int = 0
    #: Runs taken over as they were (tries untouched), for an executor that adopts tries.
    inherited: tuple[int, ...] = ()


def _unowned() -> ColumnElement[bool]:
    """A run nobody alive owns: never claimed, released, or finished under a scheduler that
    has since stopped and then put back to queued (a clear, `reset_dag_run`)."""
    alive = select(SchedulerRow.id).where(SchedulerRow.state == SchedulerState.ALIVE)
    return or_(DagRunRow.scheduler_id.is_(None), DagRunRow.scheduler_id.not_in(alive))


def _states(states: Iterable[State]) -> str:
    return ", ".join(f"'{state.value}'" for state in sorted(states))


#: The critical section's reads, in the driver's own SQL: psycopg sends them together.
_OCCUPANTS = (
    "SELECT dag_id, run_id, task_id, pool, count(*), coalesce(sum(pool_slots), 0)"
    f" FROM task_instance WHERE state IN ({_states(OCCUPYING_STATES)})"
    " GROUP BY dag_id, run_id, task_id, pool"
)
_DEFERRED_SLOTS = (
    "SELECT pool, sum(pool_slots) FROM task_instance"
    f" WHERE state = '{State.DEFERRED.value}' GROUP BY pool"
)
_SCHEDULED_ELSEWHERE = (
    "SELECT ti.dag_id, ti.run_id, ti.task_id, ti.map_index, run.dag_version_id,"
    " run.logical_date, run.id FROM task_instance AS ti JOIN dag_run AS run"
    " ON run.id = ti.dag_run_id"
    f" WHERE ti.state = '{State.SCHEDULED.value}' AND ti.priority_weight >= %(min_priority)s"
    " AND run.scheduler_id IS NOT NULL AND run.scheduler_id != %(me)s"
    " ORDER BY ti.priority_weight DESC LIMIT %(limit)s"
)


@attrs.frozen
class GlobalCounts:
    """What every scheduler holds and has waiting, read at once inside the critical section."""

    #: Every queued or running try, grouped by run and task, across all schedulers.
    occupants: list[Occupant]
    #: Pool slots of every deferred task instance, per pool (some pools count them).
    deferred_slots: dict[str, int]
    #: Other schedulers' scheduled task instances that could outrank ours, best first.
    scheduled_elsewhere: list[ScheduledElsewhere]


@attrs.frozen
class CountsWanted:
    """What the critical section reads as it is entered (`GlobalCounts`), and for whom."""

    me: int
    #: Our lowest candidate's priority: none of theirs below can come first. None: we have
    #: no candidates, and nothing of theirs is read.
    min_priority: int | None
    #: At most this many of theirs (selection cannot start more than parallelism allows).
    limit: int


class CriticalSection:
    """The queueing lock's transaction: global counts read while nobody else can queue."""

    def __init__(self, connection: Connection, counts: GlobalCounts | None) -> None:
        self._connection = connection
        self._counts = counts

    @property
    def counts(self) -> GlobalCounts:
        """Every scheduler's occupants and deferred slots, and what may outrank our tries."""
        if self._counts is None:
            raise RuntimeError("the critical section was entered without CountsWanted")
        return self._counts

    def running_runs(self) -> list[RunRecord]:
        """Every running run, whoever owns it (max_active_runs counts them all)."""
        query = select(*_RUN_COLUMNS).where(DagRunRow.state == RunState.RUNNING)
        return [RunRecord(**row._asdict()) for row in self._connection.execute(query)]


def _lock_and_count(
    connection: Connection, wanted: CountsWanted | None
) -> tuple[bool, GlobalCounts | None]:
    """Try the queueing lock and, if `wanted`, read the counts: one round trip with BEGIN.

    The reads run after the lock on the server, so they see all that the last
    holder committed before it let go; they are thrown away if the lock was
    not free. SQLAlchemy would wait for each statement, and psycopg for its BEGIN.
    """
    driver = psycopg_of(connection)
    with (
        driver_errors(connection),
        driver.cursor() as lock,
        driver.cursor() as held,
        driver.cursor() as deferred,
        driver.cursor() as waiting,
    ):
        with begun_pipeline(connection, lock):
            lock.execute(_TRY_QUEUE_LOCK, {"cls": _QUEUE_LOCK_CLASS})
            if wanted is not None:
                held.execute(_OCCUPANTS)
                deferred.execute(_DEFERRED_SLOTS)
                if wanted.min_priority is not None:
                    parameters = {
                        "me": wanted.me,
                        "min_priority": wanted.min_priority,
                        "limit": wanted.limit,
                    }
                    waiting.execute(_SCHEDULED_ELSEWHERE, parameters)
        if not lock.fetchone()[0]:
            return False, None
        if wanted is None:
            return True, None
        elsewhere = []
        if wanted.min_priority is not None:
            elsewhere = [
                ScheduledElsewhere(dag, run, task, index, version, as_aware_utc(date), pk)
                for dag, run, task, index, version, date, pk in waiting.fetchall()
            ]
        return True, GlobalCounts(
            occupants=[
                Occupant(dag_id, run_id, task_id, pool, int(tries), int(slots))
                for dag_id, run_id, task_id, pool, tries, slots in held.fetchall()
            ],
            deferred_slots={pool: int(slots) for pool, slots in deferred.fetchall()},
            scheduled_elsewhere=elsewhere,
        )


class SchedulerMethods(UnitOfWork):
    """The scheduler table, run ownership and the queueing lock (PostgreSQL only)."""

    @contextlib.contextmanager
    def registered_scheduler(self, hostname: str, pid: int) -> Iterator[int]:
        """Add an alive scheduler row for this process and hold its presence for the block.

        On PostgreSQL a dedicated connection takes the scheduler's presence lock
        in the transaction that inserts its row, so nobody ever sees the row
        without the lock held. The server frees the lock the moment the process
        dies: `reap_dead_schedulers` then knows at once, without waiting for
        the heartbeat to go stale. Yields the scheduler's id.
        """
        now = self._now()
        values = {
            "hostname": hostname,
            "pid": pid,
            "state": SchedulerState.ALIVE,
            "started_at": now,
            "heartbeat_at": now,
        }
        insert_row = insert(SchedulerRow).values(**values).returning(SchedulerRow.id)
        if self._engine.dialect.name != "postgresql":
            with self._write_core() as connection:
                me = int(connection.execute(insert_row).scalar_one())
            yield me
            return
        with self._engine.connect() as connection:
            me = int(connection.execute(insert_row).scalar_one())
            connection.execute(_HOLD_PRESENCE, {"id": me})
            connection.commit()  # the lock lives in the session; no transaction stays open
            try:
                yield me
            finally:  # the connection goes back to the pool: the lock must not go with it
                connection.execute(_DROP_PRESENCE, {"id": me})
                connection.commit()

    def heartbeat_scheduler(self) -> None:
        """Stamp this store's scheduler's heartbeat (the fence does it; nothing else is written).

        Raises SchedulerFencedError if it was declared dead meanwhile.
        """
        with self._write_core():
            pass

    def reap_dead_schedulers(self, threshold: dt.timedelta, *, inherit: bool = False) -> Reaped:
        """Declare dead the alive schedulers silent for longer than `threshold`, or (on
        PostgreSQL) whose process is gone (their presence lock is free); free their runs.

        Their queued and running tries go back to scheduled with one more try
        allowed (the crash does not eat a retry; succeeded tries are never
        touched) and their runs lose their owner, all in one transaction.
        With `inherit` (tries outlive their scheduler: Celery), this scheduler
        takes their runs over instead, tries untouched, and its executor then
        adopts what it can (`Reaped.inherited`).
        A scheduler in the middle of a commit holds its row: it is skipped,
        and seen alive afterwards.
        """
        now = self._now()
        silent = SchedulerRow.heartbeat_at < now - threshold
        if self._engine.dialect.name == "postgresql":
            silent = or_(silent, text(_GONE))
        stale = (
            select(SchedulerRow.id)
            .where(SchedulerRow.state == SchedulerState.ALIVE, silent)
            .with_for_update(skip_locked=True)
        )
        if self._fence_id is not None:  # our own presence lock is ours: never test it
            stale = stale.where(SchedulerRow.id != self._fence_id)
        with self._write_core() as connection:
            dead = tuple(int(i) for i in connection.execute(stale).scalars())
            if not dead:
                return Reaped()
            connection.execute(
                update(SchedulerRow)
                .where(SchedulerRow.id.in_(dead))
                .values(state=SchedulerState.DEAD, ended_at=now)
            )
            if inherit and self._fence_id is not None:
                inherited = connection.execute(
                    update(DagRunRow)
                    .where(
                        DagRunRow.scheduler_id.in_(dead),
                        DagRunRow.state.in_(ACTIVE_RUN_STATES),
                    )
                    .values(scheduler_id=self._fence_id)
                    .returning(DagRunRow.id)
                ).scalars()
                return Reaped(dead, inherited=tuple(int(i) for i in inherited))
            runs = select(DagRunRow.id).where(DagRunRow.scheduler_id.in_(dead))
            reset = _reset_occupying(connection, runs, now)
            released = _release(connection, DagRunRow.scheduler_id.in_(dead))
        return Reaped(dead, released, reset)

    def stop_scheduler(self, scheduler_id: int) -> None:
        """This scheduler stops cleanly: reset what it left queued or running, release its runs."""
        now = self._now()
        with self._write_core() as connection:
            runs = select(DagRunRow.id).where(DagRunRow.scheduler_id == scheduler_id)
            _reset_occupying(connection, runs, now)
            _release(connection, DagRunRow.scheduler_id == scheduler_id)
            connection.execute(
                update(SchedulerRow)
                .where(SchedulerRow.id == scheduler_id)
                .values(state=SchedulerState.STOPPED, ended_at=now)
            )

    def claim_runs(self, scheduler_id: int, limit: int) -> int:
        """Take ownership of up to `limit` unowned active runs, oldest first; returns how many.

        Rows another scheduler is claiming are skipped, never waited for. An
        unowned run holds no queued or running try (releasing resets them);
        any left by an older taskkit are reset here the same way.
        """
        if limit <= 0:
            return 0
        now = self._now()
        free = (
            select(DagRunRow.id)
            .where(DagRunRow.state.in_(ACTIVE_RUN_STATES), _unowned())
            .order_by(DagRunRow.logical_date, DagRunRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write_core() as connection:
            claimed = list(
                connection.execute(
                    update(DagRunRow)
                    .where(DagRunRow.id.in_(free.scalar_subquery()))
                    .values(scheduler_id=scheduler_id)
                    .returning(DagRunRow.id)
                ).scalars()
            )
            if claimed:
                _reset_occupying(connection, claimed, now)
        return len(claimed)

    def count_run_owners(self) -> tuple[int, int, int]:
        """(alive schedulers, active runs, active runs owned by nobody), for claim quotas."""
        with self._read() as session:
            alive = session.execute(
                select(func.count()).where(SchedulerRow.state == SchedulerState.ALIVE)
            ).scalar_one()
            active, unowned = session.execute(
                select(
                    func.count(),
                    func.count(case((_unowned(), 1))),
                ).where(DagRunRow.state.in_(ACTIVE_RUN_STATES))
            ).one()
        return int(alive), int(active), int(unowned)

    def list_owned_runs(self, scheduler_id: int) -> list[RunRecord]:
        """The active runs `scheduler_id` owns, oldest first (logical date, then id)."""
        query = (
            select(*_RUN_COLUMNS)
            .where(DagRunRow.state.in_(ACTIVE_RUN_STATES), DagRunRow.scheduler_id == scheduler_id)
            .order_by(DagRunRow.logical_date, DagRunRow.id)
        )
        with self._read() as session:
            return [RunRecord(**row._asdict()) for row in session.execute(query)]

    def list_schedulers(self, *, include_ended: bool = False) -> list[SchedulerRecord]:
        """Schedulers (alive ones, or all), newest first, with the runs and tries they hold."""
        ti = TaskInstanceRow
        holdings = (
            select(
                DagRunRow.scheduler_id,
                func.count(func.distinct(DagRunRow.id)),
                func.count(case((ti.state == State.QUEUED, 1))),
                func.count(case((ti.state == State.RUNNING, 1))),
            )
            .outerjoin(ti, ti.dag_run_id == DagRunRow.id)
            .where(DagRunRow.state.in_(ACTIVE_RUN_STATES), DagRunRow.scheduler_id.is_not(None))
            .group_by(DagRunRow.scheduler_id)
        )
        query = select(*SchedulerRow.__table__.c).order_by(SchedulerRow.id.desc())
        if not include_ended:
            query = query.where(SchedulerRow.state == SchedulerState.ALIVE)
        with self._read() as session:
            held = {row[0]: row[1:] for row in session.execute(holdings)}
            rows = [row._asdict() for row in session.execute(query)]
        records = []
        for row in rows:
            runs, queued, running = held.get(row["id"]) or (0, 0, 0)
            records.append(SchedulerRecord(**row, runs=runs, queued=queued, running=running))
        return records

    @contextlib.contextmanager
    def queueing_section(
        self, wanted: CountsWanted | None = None
    ) -> Iterator[CriticalSection | None]:
        """The queueing critical section, or None at once if another scheduler is in it.

        The lock is transaction-scoped: it is released when the block ends
        (commit) or when the server ends a session paused in it. Its holder
        must commit what it queues before leaving the block. With `wanted`,
        the section's `counts` come in the round trip that takes the lock.
        """
        # Not fenced: the fence locks our scheduler row, and the writes made inside the
        # section (fenced, on other connections) would wait for it forever.
        with self._engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")  # BEGIN goes with the lock
            with connection.begin():
                got, counts = _lock_and_count(connection, wanted)
                yield CriticalSection(connection, counts) if got else None


def _reset_occupying(connection: Connection, runs: object, now: dt.datetime) -> int:
    """Queued and running tries of `runs` back to scheduled, as start-up recovery does.

    The try reruns as a new try and max_tries grows by one, so the crash does
    not eat a retry; a reschedule-mode sensor between pokes resumes its try.
    """
    ti = TaskInstanceRow
    statement = (
        update(ti)
        .where(and_(ti.dag_run_id.in_(runs), ti.state.in_(OCCUPYING_STATES)))  # type: ignore[arg-type]
        .values(
            state=State.SCHEDULED,
            max_tries=ti.max_tries + case((ti.first_poke_at.is_(None), 1), else_=0),
            pid=None,
            hostname=None,
            wait_reason=RESET_REASON,
            updated_at=now,
        )
    )
    return rowcount(connection.execute(statement))


def _release(connection: Connection, owned: object) -> int:
    """Active runs lose their owner; finished ones keep it, saying who ran them."""
    statement = (
        update(DagRunRow)
        .where(owned, DagRunRow.state.in_(ACTIVE_RUN_STATES))  # type: ignore[arg-type]
        .values(scheduler_id=None)
    )
    return rowcount(connection.execute(statement))
