"""DAG runs: created with all their task instances at once, moved by conditional updates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taskkit import validation
from taskkit.errors import DuplicateRunError, RunNotFoundError
from taskkit.metastore.records import RunRecord
from taskkit.metastore.tables import DagRunRow, TaskInstanceRow, as_aware_utc
from taskkit.metastore.units import UnitOfWork, rowcount
from taskkit.model.task import TaskSpec
from taskkit.states import FINISHED_RUN_STATES, RunState, RunType, State

_RUN_COLUMNS = tuple(DagRunRow.__table__.c)
ACTIVE_RUN_STATES = frozenset({RunState.QUEUED, RunState.RUNNING})
#: Runs that cover a data interval: at most one of them per DAG and logical date.
INTERVAL_RUN_TYPES = (RunType.SCHEDULED, RunType.BACKFILL)


class RunMethods(UnitOfWork):
    """Creating, listing and moving DAG runs."""

    def create_run(
        self,
        dag_id: str,
        run_id: str,
        logical_date: dt.datetime,
        *,
        run_type: RunType,
        dag_version_id: int,
        tasks: Sequence[TaskSpec],
        conf: Mapping[str, Any] | None = None,
        data_interval: tuple[dt.datetime, dt.datetime] | None = None,
        max_active_runs: int | None = None,
    ) -> RunRecord:
        """Create a queued run and one task instance per task (state none, try 0), atomically.

        Raises DuplicateRunError if the DAG already has this run_id, or (for
        scheduled and backfill runs) a scheduled or backfill run at this
        logical date: manual runs may share a date, but one interval never
        runs twice. `max_active_runs` caps the DAG's running runs of this
        run's type (for backfills), on top of the DAG's own limit.
        """
        validation.run_id(run_id)
        validation.conf(conf)
        now = self._now()
        values = {
            "dag_id": dag_id,
            "run_id": run_id,
            "logical_date": logical_date,
            "run_type": run_type,
            "state": RunState.QUEUED,
            "conf": dict(conf or {}),
            "dag_version_id": dag_version_id,
            "created_at": now,
            "data_interval_start": data_interval[0] if data_interval else None,
            "data_interval_end": data_interval[1] if data_interval else None,
            "max_active_runs": max_active_runs,
        }
        try:
            with self._write() as session:
                self._refuse_duplicate(session, dag_id, run_id, logical_date, run_type)
                run_pk = session.execute(
                    insert(DagRunRow).values(**values).returning(DagRunRow.id)
                ).scalar_one()
                if tasks:
                    session.execute(
                        insert(TaskInstanceRow),
                        [new_ti(dag_id, run_id, run_pk, spec, now) for spec in tasks],
                    )
        except IntegrityError as exc:  # lost a race that the check above could not see
            raise DuplicateRunError(
                f"DAG {dag_id!r} already has run {run_id!r} or a scheduled run at "
                f"{logical_date.isoformat()}."
            ) from exc
        return self.get_run(dag_id, run_id)

    @staticmethod
    def _refuse_duplicate(
        session: Any, dag_id: str, run_id: str, logical_date: dt.datetime, run_type: RunType
    ) -> None:
        same_id = select(DagRunRow.id).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
        if session.execute(same_id).first() is not None:
            raise DuplicateRunError(
                f"DAG {dag_id!r} already has a run {run_id!r}; pick another --run-id."
            )
        if run_type in INTERVAL_RUN_TYPES:
            same_date = select(DagRunRow.run_id).where(
                DagRunRow.dag_id == dag_id,
                DagRunRow.logical_date == logical_date,
                DagRunRow.run_type.in_(INTERVAL_RUN_TYPES),
            )
            other = session.execute(same_date).scalar()
            if other is not None:
                raise DuplicateRunError(
                    f"DAG {dag_id!r} already has run {other!r} for the interval starting "
                    f"{logical_date.isoformat()}."
                )

    def get_run(self, dag_id: str, run_id: str) -> RunRecord:
        """One run; raises RunNotFoundError if the DAG has no run with that id."""
        query = select(*_RUN_COLUMNS).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
        with self._read() as session:
            row = session.execute(query).first()
        if row is None:
            raise RunNotFoundError(dag_id, run_id)
        return RunRecord(**row._asdict())

    def list_runs(self, dag_id: str | None = None, *, limit: int | None = None) -> list[RunRecord]:
        """Runs newest first (by logical date, then creation), of one DAG or of all."""
        query = select(*_RUN_COLUMNS).order_by(DagRunRow.logical_date.desc(), DagRunRow.id.desc())
        if dag_id is not None:
            query = query.where(DagRunRow.dag_id == dag_id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as session:
            return [RunRecord(**row._asdict()) for row in session.execute(query)]

    def runs_at(self, dag_id: str, logical_dates: Sequence[dt.datetime]) -> list[RunRecord]:
        """The DAG's runs whose logical date is one of `logical_dates` (an external task's look)."""
        if not logical_dates:
            return []
        query = (
            select(*_RUN_COLUMNS)
            .where(DagRunRow.dag_id == dag_id, DagRunRow.logical_date.in_(list(logical_dates)))
            .order_by(DagRunRow.logical_date, DagRunRow.id)
        )
        with self._read() as session:
            return [RunRecord(**row._asdict()) for row in session.execute(query)]

    def get_previous_run(
        self, dag_id: str, logical_date: dt.datetime, *, state: RunState | None = None
    ) -> RunRecord | None:
        """The DAG's run just before `logical_date`, if any; with `state`, the last one in it.

        Without a state it is what depends_on_past looks at; with SUCCESS, where a
        try's `prev_*_success` context values come from (Airflow's rule: the latest
        successful run with an earlier logical date).
        """
        query = (
            select(*_RUN_COLUMNS)
            .where(DagRunRow.dag_id == dag_id, DagRunRow.logical_date < logical_date)
            .order_by(DagRunRow.logical_date.desc(), DagRunRow.id.desc())
            .limit(1)
        )
        if state is not None:
            query = query.where(DagRunRow.state == state)
        with self._read() as session:
            row = session.execute(query).first()
        return None if row is None else RunRecord(**row._asdict())

    def latest_scheduled_dates(self) -> dict[str, dt.datetime]:
        """Each DAG's latest scheduled logical date, in one query (DAGs without one left out)."""
        query = (
            select(DagRunRow.dag_id, func.max(DagRunRow.logical_date))
            .where(DagRunRow.run_type == RunType.SCHEDULED)
            .group_by(DagRunRow.dag_id)
        )
        with self._read() as session:
            return {dag_id: as_aware_utc(latest) for dag_id, latest in session.execute(query).all()}

    def latest_scheduled_run(self, dag_id: str) -> RunRecord | None:
        """The DAG's scheduled run with the latest logical date, if any."""
        query = (
            select(*_RUN_COLUMNS)
            .where(DagRunRow.dag_id == dag_id, DagRunRow.run_type == RunType.SCHEDULED)
            .order_by(DagRunRow.logical_date.desc(), DagRunRow.id.desc())
            .limit(1)
        )
        with self._read() as session:
            row = session.execute(query).first()
        return None if row is None else RunRecord(**row._asdict())

    def has_active_runs(self, dag_id: str) -> bool:
        """Whether the DAG has a queued or running run that is not a backfill's: what a
        "@continuous" DAG waits for before its next run, as Airflow counts them."""
        query = (
            select(DagRunRow.id)
            .where(
                DagRunRow.dag_id == dag_id,
                DagRunRow.state.in_(ACTIVE_RUN_STATES),
                DagRunRow.run_type != RunType.BACKFILL,
            )
            .limit(1)
        )
        with self._read() as session:
            return session.execute(query).first() is not None

    def run_state_counts(
        self, dag_ids: Collection[str] | None = None
    ) -> dict[str, dict[RunState, int]]:
        """How many runs each DAG (of `dag_ids`, else every one with runs) has in each state,
        by dag_id; in one grouped query."""
        query = (
            select(DagRunRow.dag_id, DagRunRow.state, func.count())
            .group_by(DagRunRow.dag_id, DagRunRow.state)
            .order_by(DagRunRow.dag_id)
        )
        if dag_ids is not None:
            query = query.where(DagRunRow.dag_id.in_(list(dag_ids)))
        counts: dict[str, dict[RunState, int]] = {}
        with self._read() as session:
            for dag_id, state, count in session.execute(query):
                counts.setdefault(dag_id, {})[state] = count
        return counts

    def find_interval_runs(
        self, dag_id: str, logical_dates: Collection[dt.datetime]
    ) -> dict[dt.datetime, RunRecord]:
        """The DAG's scheduled and backfill runs at these logical dates, by logical date."""
        query = select(*_RUN_COLUMNS).where(
            DagRunRow.dag_id == dag_id,
            DagRunRow.run_type.in_(INTERVAL_RUN_TYPES),
            DagRunRow.logical_date.in_(list(logical_dates)),
        )
        with self._read() as session:
            records = [RunRecord(**row._asdict()) for row in session.execute(query)]
        return {r.logical_date: r for r in records}

    def list_active_runs(self) -> list[RunRecord]:
        """Queued and running runs, oldest first (logical date, then id), for the scheduler."""
        query = (
            select(*_RUN_COLUMNS)
            .where(DagRunRow.state.in_(ACTIVE_RUN_STATES))
            .order_by(DagRunRow.logical_date, DagRunRow.id)
        )
        with self._read() as session:
            return [RunRecord(**row._asdict()) for row in session.execute(query)]

    def set_run_state(
        self,
        dag_id: str,
        run_id: str,
        state: RunState,
        *,
        expected: Collection[RunState] | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Move a run to `state` if its state is in `expected` (any, when None); True if moved.

        Entering running stamps started_at; entering a finished state stamps ended_at.
        """
        stamp = now or self._now()
        values: dict[str, object] = {"state": state}
        if state is RunState.RUNNING:
            values["started_at"] = stamp
        if state in FINISHED_RUN_STATES:
            values["ended_at"] = stamp
        query = update(DagRunRow).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
        if expected is not None:
            query = query.where(DagRunRow.state.in_(list(expected)))
        with self._write() as session:
            return bool(rowcount(session.execute(query.values(**values))))


def new_ti(
    dag_id: str, run_id: str, run_pk: int, spec: TaskSpec, now: dt.datetime
) -> dict[str, object]:
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": spec.task_id,
        "dag_run_id": run_pk,
        "state": State.NONE,
        "try_number": 0,
        "max_tries": spec.max_tries,
        "pool": spec.pool,
        "pool_slots": spec.pool_slots,
        "priority_weight": spec.priority_weight_total,
        "queue": spec.queue,
        "updated_at": now,
    }


def run_pk(session: Session, dag_id: str, run_id: str) -> int:
    """A run's primary key inside the caller's transaction; RunNotFoundError if there is none."""
    found = session.execute(
        select(DagRunRow.id).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
    ).scalar()
    if found is None:
        raise RunNotFoundError(dag_id, run_id)
    return int(found)
