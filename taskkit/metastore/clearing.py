"""Clearing task instances: rerunning part of a run as new tries, atomically."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, update

from taskkit.metastore.runs import run_pk
from taskkit.metastore.tables import DagRunRow, TaskInstanceRow, XComRow
from taskkit.metastore.units import UnitOfWork
from taskkit.states import OCCUPYING_STATES, RunState, State

_TI = TaskInstanceRow


class ClearMethods(UnitOfWork):
    """Resetting task instances so the scheduler runs them again."""

    def clear_task_instances(self, dag_id: str, run_id: str, tries: Mapping[str, int]) -> int:
        """Reset the task instances named in `tries` so the scheduler runs them again.

        Each one that is not queued or running (a try under way is left to
        finish) goes back to state none with its try_number kept, so its next
        try is a new try, and `tries[task_id]` more tries allowed (its retries
        + 1, as Airflow grants a cleared task its retries again); its timings,
        error and XComs are removed. If any was reset the run goes back to
        queued, which tells a scheduler holding it as running to reload it.
        All of it commits together. Returns how many were reset; raises
        RunNotFoundError for an unknown run.
        """
        now = self._now()
        with self._write() as session:
            run_pk(session, dag_id, run_id)  # RunNotFoundError for an unknown run
            cleared: list[str] = []
            for task_id, more in sorted(tries.items()):
                query = (
                    update(_TI)
                    .where(
                        _TI.dag_id == dag_id,
                        _TI.run_id == run_id,
                        _TI.task_id == task_id,
                        _TI.state.not_in(OCCUPYING_STATES),
                    )
                    .values(
                        state=State.NONE,
                        max_tries=_TI.try_number + more,
                        queued_at=None,
                        started_at=None,
                        ended_at=None,
                        next_retry_at=None,
                        first_poke_at=None,
                        next_method=None,
                        next_kwargs=None,
                        hostname=None,
                        pid=None,
                        heartbeat_at=None,
                        wait_reason=None,
                        error=None,
                        updated_at=now,
                    )
                    .returning(_TI.task_id)
                )
                cleared.extend(session.execute(query).scalars())
            if not cleared:
                return 0
            session.execute(
                delete(XComRow).where(
                    XComRow.dag_id == dag_id,
                    XComRow.run_id == run_id,
                    XComRow.task_id.in_(cleared),
                )
            )
            session.execute(
                update(DagRunRow)
                .where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
                .values(state=RunState.QUEUED, ended_at=None)
            )
        return len(cleared)
