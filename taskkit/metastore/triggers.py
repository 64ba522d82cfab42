"""Triggers of deferred task instances: stored by the scheduler, fired by the triggerer.

ADR 0009: the triggerer writes only trigger rows (an event, an error, or the
removal of a row whose task instance stopped waiting on it); task states stay
the scheduler's alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from sqlalchemy import Connection, delete, exists, insert, select, update

from taskkit.metastore.records import TriggerRecord, TriggerWrite
from taskkit.metastore.tables import TaskInstanceRow, TriggerRow
from taskkit.metastore.units import UnitOfWork, rowcount
from taskkit.model.keys import TaskInstanceKey
from taskkit.states import State

_T = TriggerRow
_TI = TaskInstanceRow

#: Whether the trigger's task instance is still deferred in the try that stored it.
_STILL_DEFERRED = exists().where(
    _TI.dag_id == _T.dag_id,
    _TI.run_id == _T.run_id,
    _TI.task_id == _T.task_id,
    _TI.map_index == _T.map_index,
    _TI.try_number == _T.try_number,
    _TI.state == State.DEFERRED,
)


def write_triggers(
    connection: Connection, triggers: Iterable[TriggerWrite], now: dt.datetime
) -> None:
    """Store each trigger (in the caller's transaction), replacing its instance's older one."""
    for trigger in triggers:
        key = trigger.ti
        connection.execute(
            delete(_T).where(
                _T.dag_id == key.dag_id,
                _T.run_id == key.run_id,
                _T.task_id == key.task_id,
                _T.map_index == key.map_index,
            )
        )
        connection.execute(
            insert(_T).values(
                dag_id=key.dag_id,
                run_id=key.run_id,
                task_id=key.task_id,
                map_index=key.map_index,
                try_number=trigger.try_number,
                classpath=trigger.classpath,
                kwargs=trigger.kwargs,
                created_at=now,
            )
        )


class TriggerMethods(UnitOfWork):
    """What the triggerer reads and writes, and what the scheduler collects."""

    def list_waiting_trigger_ids(self) -> set[int]:
        """Ids of the triggers not fired yet whose task instance still waits on them.

        The triggerer's poll: ids only, so a thousand waiting triggers cost
        little to look at every second; `get_triggers` reads the new ones.
        """
        query = select(_T.id).where(_T.fired_at.is_(None), _STILL_DEFERRED)
        with self._engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def get_triggers(self, trigger_ids: Collection[int]) -> list[TriggerRecord]:
        """The triggers with these ids (those still there), by id."""
        if not trigger_ids:
            return []
        query = select(_T).where(_T.id.in_(list(trigger_ids))).order_by(_T.id)
        with self._read() as session:
            return [_record(row) for row in session.execute(query).scalars()]

    def list_fired_triggers(self) -> list[TriggerRecord]:
        """Triggers that fired (or failed) and are not collected yet, oldest first."""
        query = select(_T).where(_T.fired_at.is_not(None)).order_by(_T.id)
        with self._read() as session:
            return [_record(row) for row in session.execute(query).scalars()]

    def fire_trigger(self, trigger_id: int, *, event: str | None, error: str | None) -> bool:
        """Record a trigger's first event (or its error); False if it was gone or fired."""
        with self._write() as session:
            result = session.execute(
                update(_T)
                .where(_T.id == trigger_id, _T.fired_at.is_(None))
                .values(fired_at=self._now(), event=event, error=error)
            )
            return bool(rowcount(result))

    def delete_triggers(self, trigger_ids: Collection[int]) -> None:
        """Forget collected triggers."""
        if trigger_ids:
            with self._write() as session:
                session.execute(delete(_T).where(_T.id.in_(list(trigger_ids))))

    def delete_stale_triggers(self) -> int:
        """Remove triggers whose task instance no longer waits on them (cleared, marked, timed
        out or collected); return how many."""
        with self._write() as session:
            return rowcount(session.execute(delete(_T).where(~_STILL_DEFERRED)))


def _record(row: TriggerRow) -> TriggerRecord:
    return TriggerRecord(
        id=row.id,
        ti=TaskInstanceKey(row.dag_id, row.run_id, row.task_id, row.map_index),
        try_number=row.try_number,
        classpath=row.classpath,
        kwargs=row.kwargs,
        created_at=row.created_at,
        fired_at=row.fired_at,
        event=row.event,
        error=row.error,
    )
