"""XCom values, stored encoded (JSON or pickle, see taskkit.xcom_codec) and never decoded here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select

from taskkit.metastore.records import XComRecord, XComWrite
from taskkit.metastore.tables import XComRow
from taskkit.metastore.units import UnitOfWork
from taskkit.model.keys import TaskInstanceKey

#: What taskkit.xcom_codec.XComEncoding may be stored: tagged JSON or a signed pickle.
STORED_ENCODINGS = ("json", "pickle")
_XCOM_COLUMNS = tuple(XComRow.__table__.c)


class XComMethods(UnitOfWork):
    """Setting and reading XCom values."""

    def get_task_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[XComRecord]:
        """One task's values under `key` in one run, every instance's, by map_index."""
        query = (
            select(*_XCOM_COLUMNS)
            .where(
                XComRow.dag_id == dag_id,
                XComRow.run_id == run_id,
                XComRow.task_id == task_id,
                XComRow.key == key,
            )
            .order_by(XComRow.map_index)
        )
        with self._read() as session:
            return [XComRecord(**row._asdict()) for row in session.execute(query)]

    def get_xcoms(self, dag_id: str, run_id: str) -> list[XComRecord]:
        """Every value stored in one run, by task_id, map_index then key."""
        query = (
            select(*_XCOM_COLUMNS)
            .where(XComRow.dag_id == dag_id, XComRow.run_id == run_id)
            .order_by(XComRow.task_id, XComRow.map_index, XComRow.key)
        )
        with self._read() as session:
            return [XComRecord(**row._asdict()) for row in session.execute(query)]


def clear_xcoms(session: Any, ti: TaskInstanceKey) -> None:
    """Delete the task instance's values inside the caller's transaction."""
    session.execute(delete(XComRow).where(*_matches(ti)))


def write_xcom(session: Any, xcom: XComWrite, now: dt.datetime) -> None:
    """Store (or replace) one value inside the caller's transaction (Session or Connection)."""
    if xcom.encoding not in STORED_ENCODINGS:
        raise ValueError(
            f"XCom encoding {xcom.encoding!r} cannot be stored; sign it first (taskkit.xcom_codec)."
        )
    ti = xcom.ti
    session.execute(delete(XComRow).where(*_matches(ti), XComRow.key == xcom.key))
    session.execute(
        insert(XComRow).values(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index,
            key=xcom.key,
            value=xcom.value,
            encoding=xcom.encoding,
            length=xcom.length,
            created_at=now,
        )
    )


def _matches(ti: TaskInstanceKey) -> tuple[ColumnElement[bool], ...]:
    return (
        XComRow.dag_id == ti.dag_id,
        XComRow.run_id == ti.run_id,
        XComRow.task_id == ti.task_id,
        XComRow.map_index == ti.map_index,
    )
