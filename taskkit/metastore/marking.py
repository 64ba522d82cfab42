"""Marking task instances success or failed by hand, as Airflow's "Mark as" does."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import update

from taskkit.metastore.runs import run_pk
from taskkit.metastore.tables import DagRunRow, TaskInstanceRow
from taskkit.metastore.units import UnitOfWork
from taskkit.states import OCCUPYING_STATES, RunState, State

_TI = TaskInstanceRow


class MarkMethods(UnitOfWork):
    """Setting task instances' states by hand."""

    def mark_task_instances(
        self, dag_id: str, run_id: str, task_ids: Collection[str], state: State
    ) -> list[str]:
        """Set the named task instances to `state`; returns the task_ids that changed.

        Queued or running ones are left to finish (a try under way is not
        killed), and ones already in `state` are left alone. If any changed,
        the run goes back to queued so a scheduler holding it reloads it and
        rolls its state up again, as after clearing. All of it commits together.
        """
        now = self._now()
        with self._write() as session:
            run_pk(session, dag_id, run_id)  # RunNotFoundError for an unknown run
            query = (
                update(_TI)
                .where(
                    _TI.dag_id == dag_id,
                    _TI.run_id == run_id,
                    _TI.task_id.in_(list(task_ids)),
                    _TI.state.not_in([*OCCUPYING_STATES, state]),
                )
                .values(
                    state=state,
                    ended_at=now,
                    next_retry_at=None,
                    first_poke_at=None,
                    next_method=None,
                    next_kwargs=None,
                    wait_reason=None,
                    updated_at=now,
                )
                .returning(_TI.task_id)
            )
            marked = sorted(session.execute(query).scalars())
            if marked:
                session.execute(
                    update(DagRunRow)
                    .where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
                    .values(state=RunState.QUEUED, ended_at=None)
                )
        return marked
