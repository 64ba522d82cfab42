"""Task instances: listed in one query, changed only by conditional batched updates.

Every change is `UPDATE ... WHERE key AND state IN expected`, so when two
processes race for one transition exactly one of them applies it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Dialect

from taskkit.metastore.assets import write_asset_events
from taskkit.metastore.driver_batch import DriverBatch
from taskkit.metastore.records import (
    AssetEventWrite,
    RenderedFieldsWrite,
    TaskInstanceRecord,
    TIChange,
    TIOutcome,
    TIProgress,
    TriggerWrite,
    XComWrite,
)
from taskkit.metastore.rendered import write_rendered_fields
from taskkit.metastore.runs import ACTIVE_RUN_STATES
from taskkit.metastore.tables import DagRunRow, TaskInstanceRow
from taskkit.metastore.triggers import write_triggers
from taskkit.metastore.units import UnitOfWork
from taskkit.metastore.xcoms import clear_xcoms, write_xcom
from taskkit.model.keys import TaskInstanceKey
from taskkit.states import FINISHED_STATES, OCCUPYING_STATES, State

_TI = TaskInstanceRow
_TI_COLUMNS = tuple(TaskInstanceRow.__table__.c)
#: Rows per executemany of task instance changes.
_ROWS_PER_STATEMENT = 2000
_PROGRESS_COLUMNS = tuple(getattr(_TI, name) for name in TIProgress._fields)
_OUTCOME_COLUMNS = tuple(getattr(_TI, name) for name in TIOutcome._fields)
#: What a new task instance has none of yet.
_FRESH = dict.fromkeys(
    (
        "queued_at",
        "started_at",
        "ended_at",
        "next_retry_at",
        "hostname",
        "pid",
        "heartbeat_at",
        "wait_reason",
        "error",
        "rendered_map_index",
    )
)


def _key_matches(key: TaskInstanceKey) -> ColumnElement[bool]:
    return and_(
        _TI.dag_id == key.dag_id,
        _TI.run_id == key.run_id,
        _TI.task_id == key.task_id,
        _TI.map_index == key.map_index,
    )


@functools.cache
def _conditional_update(expected: frozenset[State], columns: tuple[str, ...]) -> Update:
    """One Core UPDATE per shape of change, built once so SQLAlchemy's compiled cache hits.

    Bound parameters instead of literal values and no ORM session
    synchronisation: a batch of a thousand transitions costs milliseconds,
    not seconds.
    """
    table: Table = TaskInstanceRow.__table__  # type: ignore[assignment]
    return (
        update(table)
        .where(
            *_bound_key(table),
            # Not IN (...): expanding parameters cannot be used with executemany.
            or_(*(table.c.state == state for state in sorted(expected))),
        )
        .values({name: bindparam(name) for name in (*columns, "updated_at")})
    )


@functools.cache
def _driver_update(
    dialect: Dialect, expected: frozenset[State], columns: tuple[str, ...]
) -> DriverBatch:
    """`_conditional_update` compiled once for the dialect, run straight on the driver."""
    return DriverBatch.compile(_conditional_update(expected, columns), dialect)


def _bound_key(table: Table) -> tuple[ColumnElement[bool], ...]:
    """A task instance's key as bound parameters (k_dag_id, k_run_id, k_task_id, k_map_index)."""
    return (
        table.c.dag_id == bindparam("k_dag_id"),
        table.c.run_id == bindparam("k_run_id"),
        table.c.task_id == bindparam("k_task_id"),
        table.c.map_index == bindparam("k_map_index"),
    )


@functools.cache
def _heartbeat_update() -> Update:
    """Stamp one occupying task instance's heartbeat; run as one executemany per batch.

    A statement built once with bound keys, rather than an OR of every key,
    costs microseconds per task instance instead of a fresh SQL compilation.
    """
    table: Table = TaskInstanceRow.__table__  # type: ignore[assignment]
    return (
        update(table)
        .where(
            *_bound_key(table),
            or_(*(table.c.state == state for state in sorted(OCCUPYING_STATES))),
        )
        .values(heartbeat_at=bindparam("stamp"))
    )


@functools.cache
def _tries_of_keys() -> Select[str, str, str, int, int, State]:
    """The try number and state of the task instances whose keys are in `keys` (expanding).

    Built once, so reading a batch costs one round trip and no SQL compilation.
    """
    key = tuple_(_TI.dag_id, _TI.run_id, _TI.task_id, _TI.map_index)
    return select(
        _TI.dag_id, _TI.run_id, _TI.task_id, _TI.map_index, _TI.try_number, _TI.state
    ).where(key.in_(bindparam("keys", expanding=True)))


class TaskInstanceMethods(UnitOfWork):
    """Listing, transitions, heartbeats and crash recovery of task instances."""

    def list_task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceRecord]:
        """The task instances of one run, by task_id then map_index."""
        query = (
            select(*_TI_COLUMNS)
            .where(_TI.dag_id == dag_id, _TI.run_id == run_id)
            .order_by(_TI.task_id, _TI.map_index)
        )
        with self._read() as session:
            return [TaskInstanceRecord(**row._asdict()) for row in session.execute(query)]

    def list_ti_progress(self, dag_id: str, run_id: str) -> list[TIProgress]:
        """What the run engine needs of each of a run's task instances, as plain tuples."""
        return [TIProgress(*row) for row in self._run_rows(_PROGRESS_COLUMNS, dag_id, run_id)]

    def list_ti_outcomes(self, dag_id: str, run_id: str) -> list[TIOutcome]:
        """Each of a run's task instances' state, try number and start, by task_id."""
        return [TIOutcome(*row) for row in self._run_rows(_OUTCOME_COLUMNS, dag_id, run_id)]

    def _run_rows(
        self, columns: tuple[ColumnElement[Any], ...], dag_id: str, run_id: str
    ) -> list[Any]:
        """`columns` of a run's task instances, by task_id and map_index, as plain rows."""
        query = (
            select(*columns)
            .where(_TI.dag_id == dag_id, _TI.run_id == run_id)
            .order_by(_TI.task_id, _TI.map_index)
        )
        with self._read() as session:
            return list(session.execute(query))

    def get_task_instance(self, key: TaskInstanceKey) -> TaskInstanceRecord | None:
        """One task instance by key, or None if there is no such task instance."""
        with self._read() as session:
            row = session.execute(select(*_TI_COLUMNS).where(_key_matches(key))).first()
        return None if row is None else TaskInstanceRecord(**row._asdict())

    def current_tries(
        self, keys: Iterable[TaskInstanceKey]
    ) -> dict[TaskInstanceKey, tuple[int, State]]:
        """The try number and state of each of `keys` that exists, in one query.

        What a Celery worker reads to tell which delivered tries are still due.
        """
        wanted = [(k.dag_id, k.run_id, k.task_id, k.map_index) for k in keys]
        if not wanted:
            return {}
        with self._engine.connect() as connection:
            rows = connection.execute(_tries_of_keys(), {"keys": wanted}).all()
        return {
            TaskInstanceKey(dag_id, run_id, task_id, map_index): (try_number, state)
            for dag_id, run_id, task_id, map_index, try_number, state in rows
        }

    def list_active_task_instances(
        self, *, unfinished_only: bool = False, occupying_only: bool = False
    ) -> list[TaskInstanceRecord]:
        """Task instances of every queued or running run, in one query.

        With `unfinished_only`, finished ones (success, failed, skipped,
        upstream_failed) are left out; with `occupying_only`, all but the queued
        and running ones (what start-up recovery looks at: a 100,000-task run's
        other records would take ~100 MB).
        """
        query = (
            select(*_TI_COLUMNS)
            .join(DagRunRow, DagRunRow.id == _TI.dag_run_id)
            .where(DagRunRow.state.in_(ACTIVE_RUN_STATES))
            .order_by(_TI.dag_run_id, _TI.task_id, _TI.map_index)
        )
        if unfinished_only:
            query = query.where(_TI.state.not_in(FINISHED_STATES))
        if occupying_only:
            query = query.where(_TI.state.in_(OCCUPYING_STATES))
        with self._read() as session:
            return [TaskInstanceRecord(**row._asdict()) for row in session.execute(query)]

    def transition_task_instances(
        self,
        changes: Sequence[TIChange],
        xcoms: Sequence[XComWrite] = (),
        cleared: Iterable[TaskInstanceKey] = (),
        rendered: Sequence[RenderedFieldsWrite] = (),
        asset_events: Sequence[AssetEventWrite] = (),
        *,
        triggers: Sequence[TriggerWrite] = (),
    ) -> list[bool]:
        """Apply each change whose task instance is in one of its expected states, atomically.

        Returns, per change, whether it applied. All changes (and the XCom
        values given with them, replacing older ones) commit together, so a
        caller acts on exactly the transitions it won. Changes of one shape go
        to the database as one executemany; only when some of them lost a race
        are the rows read back to tell which. The stored values of the
        `cleared` task instances (a new try starts with none) are deleted
        first, where one of their changes applied. `rendered` are finished
        tries' rendered template fields, stored in the same transaction, as
        are `asset_events` (each queued for the DAGs scheduled on its asset)
        of the tries whose success applied, and `triggers` of the tries
        whose move to deferred applied.
        """
        if not changes and not xcoms:
            return []
        now = self._now()
        groups: dict[tuple[frozenset[State], tuple[str, ...]], list[int]] = {}
        for index, change in enumerate(changes):
            groups.setdefault((change.expected, tuple(change.values())), []).append(index)

        def row(batch: DriverBatch, index: int, shared: dict[str, object]) -> object:
            key = changes[index].key
            named = {
                "k_dag_id": key.dag_id,
                "k_run_id": key.run_id,
                "k_task_id": key.task_id,
                "k_map_index": key.map_index,
                # Built again here, a slice at a time: all of a 100,000-task run's first
                # decisions' values at once added ~30 MB to the scheduler's peak.
                **changes[index].values(),
            }
            return batch.row(named, shared)

        applied = [True] * len(changes)
        sent: list[tuple[list[int], Callable[[], list[int] | None]]] = []
        with self._write_core(pipelined=True) as connection:
            with self._fenced_pipeline(connection):
                for (expected, columns), group in groups.items():
                    batch = _driver_update(connection.dialect, expected, columns)
                    shared = {"updated_at": batch.process("updated_at", now)}  # once, not per row
                    # In slices, so a 100,000-task run's first decisions never hold every row's
                    # parameters (and the driver's copy of them) at once.
                    for start in range(0, len(group), _ROWS_PER_STATEMENT):
                        indexes = group[start : start + _ROWS_PER_STATEMENT]
                        rows = [row(batch, i, shared) for i in indexes]
                        sent.append((indexes, batch.send(connection, rows)))
            for indexes, counted in sent:
                counts = counted()
                if counts is not None:
                    for i, count in zip(indexes, counts, strict=True):
                        applied[i] = count == 1
                    continue
                # A large SQLite batch of which some lost a race: ours are the rows stamped
                # with our `now` (exact unless another writer's `now` was the same
                # microsecond: rare in a large batch, and SQLite has one scheduler).
                for i in indexes:
                    stamp = connection.execute(
                        select(_TI.updated_at).where(_key_matches(changes[i].key))
                    ).scalar()
                    applied[i] = stamp == now
            won = {c.key for c, ok in zip(changes, applied, strict=True) if ok}
            for key in cleared:
                if key in won:
                    clear_xcoms(connection, key)
            for xcom in xcoms:
                write_xcom(connection, xcom, now)
            for fields in rendered:
                write_rendered_fields(connection, fields)
            write_asset_events(connection, (e for e in asset_events if e.ti in won), now)
            write_triggers(connection, (t for t in triggers if t.ti in won), now)
        return applied

    def expand_task_instance(self, key: TaskInstanceKey, count: int) -> bool:
        """Replace a mapped task's unexpanded instance (map_index -1, state none) by `count`.

        The new instances 0..count-1 start in state none with the -1 row's
        pool, priority and tries, in the same transaction as the -1 row is
        deleted. Returns False (and changes nothing) if that row is gone or
        no longer in state none: someone else changed the run meanwhile.
        """
        now = self._now()
        with self._write() as session:
            row = session.execute(
                select(*_TI_COLUMNS).where(_key_matches(key), _TI.state == State.NONE)
            ).first()
            if row is None:
                return False
            template = row._asdict()
            session.execute(delete(_TI).where(_key_matches(key), _TI.state == State.NONE))
            session.execute(
                insert(_TI),
                [{**template, "map_index": i, "updated_at": now} for i in range(count)],
            )
        return True

    def add_task_instances(self, key: TaskInstanceKey, map_indexes: range, max_tries: int) -> bool:
        """Give an expanded mapped task more instances (it was expanded again, longer).

        The new instances start in state none with no tries and `max_tries`,
        copying pool and priority from the task's instance 0, in one transaction.
        Returns False (and changes nothing) if the task has no instance 0 or
        one of the new ones exists already: someone else changed the run.
        """
        now = self._now()
        with self._write() as session:
            first = TaskInstanceKey(key.dag_id, key.run_id, key.task_id, 0)
            row = session.execute(select(*_TI_COLUMNS).where(_key_matches(first))).first()
            taken = session.execute(
                select(_TI.map_index).where(
                    _TI.dag_id == key.dag_id,
                    _TI.run_id == key.run_id,
                    _TI.task_id == key.task_id,
                    _TI.map_index >= map_indexes.start,
                )
            ).first()
            if row is None or taken is not None:
                return False
            template = {
                **row._asdict(),
                **_FRESH,
                "state": State.NONE,
                "try_number": 0,
                "max_tries": max_tries,
                "updated_at": now,
            }
            session.execute(insert(_TI), [{**template, "map_index": i} for i in map_indexes])
        return True

    def heartbeat_task_instances(
        self, keys: Iterable[TaskInstanceKey], *, now: dt.datetime | None = None
    ) -> int:
        """Stamp heartbeat_at on those of `keys` that are queued or running; returns how many."""
        stamp = now or self._now()
        params = [
            {
                "k_dag_id": k.dag_id,
                "k_run_id": k.run_id,
                "k_task_id": k.task_id,
                "k_map_index": k.map_index,
                "stamp": stamp,
            }
            for k in keys
        ]
        if not params:
            return 0
        with self._write_core() as connection:
            return int(connection.execute(_heartbeat_update(), params).rowcount)
