"""Rendered template fields per try: written with the try's result, read by the API and UI."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select

from taskkit.metastore.records import RenderedFieldsWrite
from taskkit.metastore.tables import RenderedFieldsRow
from taskkit.metastore.units import UnitOfWork
from taskkit.model.keys import TaskInstanceKey

_R = RenderedFieldsRow


class RenderedFieldsMethods(UnitOfWork):
    """Reading what each try of a task instance rendered."""

    def get_rendered_fields(self, ti: TaskInstanceKey) -> dict[int, dict[str, Any]]:
        """Each try's rendered fields by try number (tries that rendered nothing are absent)."""
        query = (
            select(_R.try_number, _R.rendered_fields)
            .where(
                _R.dag_id == ti.dag_id,
                _R.run_id == ti.run_id,
                _R.task_id == ti.task_id,
                _R.map_index == ti.map_index,
            )
            .order_by(_R.try_number)
        )
        with self._read() as session:
            return {number: json.loads(text) for number, text in session.execute(query)}


def write_rendered_fields(connection: Any, write: RenderedFieldsWrite) -> None:
    """Store (or replace) one try's rendered fields inside the caller's transaction."""
    ti = write.ti
    where = (
        _R.dag_id == ti.dag_id,
        _R.run_id == ti.run_id,
        _R.task_id == ti.task_id,
        _R.map_index == ti.map_index,
        _R.try_number == write.try_number,
    )
    connection.execute(delete(_R).where(*where))
    connection.execute(
        insert(_R).values(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index,
            try_number=write.try_number,
            rendered_fields=write.fields_json,
        )
    )
