"""Reads shaped for the REST API and the UI: pages, the grid, pool holders and waiters.

Each is one query over indexed columns, so a page stays fast with tens of
thousands of task instances (see bench/bench_api.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import cast

import attrs
from sqlalchemy import String, case, func, select, type_coerce

from taskkit.metastore.records import NEWEST_RUNS_FIRST, RunOrder, RunRecord, TaskInstanceRecord
from taskkit.metastore.tables import DagRunRow, PoolRow, TaskInstanceRow, as_aware_utc
from taskkit.metastore.units import UnitOfWork
from taskkit.states import RunState, State

_RUN_COLUMNS = tuple(DagRunRow.__table__.c)
_TI_COLUMNS = tuple(TaskInstanceRow.__table__.c)
_TI = TaskInstanceRow


#: One task instance as the grid shows it: (dag_run pk, task_id, state, try_number).
GridCell = tuple[int, str, str, int]


@attrs.frozen
class PoolUsage:
    """A pool's size and the slots its task instances hold or want, by state."""

    name: str
    slots: int
    description: str | None
    running: int
    queued: int
    scheduled: int
    deferred: int = 0
    #: Whether the deferred ones hold their slots (else they are only shown).
    include_deferred: bool = False


class ViewMethods(UnitOfWork):
    """Paged and aggregated reads for the API and UI."""

    def page_runs(
        self,
        dag_id: str | None,
        *,
        limit: int,
        offset: int = 0,
        states: Collection[RunState] = (),
        order: RunOrder = NEWEST_RUNS_FIRST,
    ) -> tuple[list[RunRecord], int]:
        """One page of a DAG's runs (every DAG's for None) in `order`, and how many in all."""
        where = [] if dag_id is None else [DagRunRow.dag_id == dag_id]
        if states:
            where.append(DagRunRow.state.in_(list(states)))
        column = DagRunRow.__table__.c[order.column.value]
        if order.descending:
            first, tie = column.desc(), DagRunRow.id.desc()
        else:
            first, tie = column.asc(), DagRunRow.id.asc()
        query = (
            select(*_RUN_COLUMNS)
            .where(*where)
            .order_by(first.nulls_last(), tie)  # runs not started yet last, on either database
            .limit(limit)
            .offset(offset)
        )
        with self._read() as session:
            count = select(func.count()).select_from(DagRunRow).where(*where)
            total = session.execute(count).scalar_one()
            return [RunRecord(**r._asdict()) for r in session.execute(query)], int(total)

    def page_task_instances(
        self,
        dag_id: str | None,
        run_id: str | None,
        *,
        limit: int,
        offset: int = 0,
        states: Collection[State] = (),
        pools: Collection[str] = (),
    ) -> tuple[list[TaskInstanceRecord], int]:
        """One page of task instances, by DAG, run, task and map index, and how many in all:
        of one run, or (None) of every run and of every DAG; filtered by states and pools."""
        where = []
        if dag_id is not None:
            where.append(_TI.dag_id == dag_id)
        if run_id is not None:
            where.append(_TI.run_id == run_id)
        if states:
            where.append(_TI.state.in_(list(states)))
        if pools:
            where.append(_TI.pool.in_(list(pools)))
        query = (
            select(*TaskInstanceRow.__table__.c)
            .where(*where)
            .order_by(_TI.dag_id, _TI.run_id, _TI.task_id, _TI.map_index)
            .limit(limit)
            .offset(offset)
        )
        with self._read() as session:
            total = session.execute(
                select(func.count()).select_from(_TI).where(*where)
            ).scalar_one()
            found = [TaskInstanceRecord(**r._asdict()) for r in session.execute(query)]
        return found, int(total)

    def recent_runs(self, dag_ids: Collection[str], per_dag: int) -> dict[str, list[RunRecord]]:
        """Each DAG's newest `per_dag` runs (newest first), for the DAG list's strips."""
        if not dag_ids:
            return {}
        rank = (
            func.row_number()
            .over(
                partition_by=DagRunRow.dag_id,
                order_by=(DagRunRow.logical_date.desc(), DagRunRow.id.desc()),
            )
            .label("rank")
        )
        inner = select(DagRunRow.id, rank).where(DagRunRow.dag_id.in_(list(dag_ids))).subquery()
        query = (
            select(*_RUN_COLUMNS)
            .join(inner, inner.c.id == DagRunRow.id)
            .where(inner.c.rank <= per_dag)
            .order_by(DagRunRow.dag_id, inner.c.rank)
        )
        found: dict[str, list[RunRecord]] = {dag_id: [] for dag_id in dag_ids}
        with self._read() as session:
            for row in session.execute(query):
                record = RunRecord(**row._asdict())
                found[record.dag_id].append(record)
        return found

    def grid_cells(self, run_pks: Sequence[int]) -> Sequence[GridCell]:
        """The task instances of these runs, only the columns the grid shows.

        Read as plain tuples with the state as text (a covering index serves
        it): 25,000 cells must cost tens of milliseconds, not hundreds.
        """
        if not run_pks:
            return []
        table = TaskInstanceRow.__table__
        query = select(
            table.c.dag_run_id,
            table.c.task_id,
            type_coerce(table.c.state, String),
            table.c.try_number,
        ).where(table.c.dag_run_id.in_(list(run_pks)))
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return cast("Sequence[GridCell]", rows)

    def pool_usage(self) -> list[PoolUsage]:
        """Every pool by name with the slots held by running and queued task instances
        and wanted by scheduled ones, and held by deferred ones."""
        counted = (State.RUNNING, State.QUEUED, State.SCHEDULED, State.DEFERRED)
        sums = [
            func.sum(case((_TI.state == state, _TI.pool_slots), else_=0)).label(state.value)
            for state in counted
        ]
        used = select(_TI.pool, *sums).where(_TI.state.in_(counted)).group_by(_TI.pool).subquery()
        query = (
            select(
                PoolRow.name,
                PoolRow.slots,
                PoolRow.description,
                used.c.running,
                used.c.queued,
                used.c.scheduled,
                used.c.deferred,
                PoolRow.include_deferred,
            )
            .outerjoin(used, used.c.pool == PoolRow.name)
            .order_by(PoolRow.name)
        )
        with self._read() as session:
            return [
                PoolUsage(
                    name,
                    slots,
                    desc,
                    int(run or 0),
                    int(que or 0),
                    int(sch or 0),
                    int(dfr or 0),
                    bool(include),
                )
                for name, slots, desc, run, que, sch, dfr, include in session.execute(query)
            ]

    def pool_task_instances(
        self, pool: str, states: Collection[State], *, limit: int
    ) -> list[TaskInstanceRecord]:
        """Task instances of `pool` in `states`, highest priority first (then oldest)."""
        query = (
            select(*_TI_COLUMNS)
            .where(_TI.state.in_(list(states)), _TI.pool == pool)
            .order_by(_TI.priority_weight.desc(), _TI.dag_run_id, _TI.task_id)
            .limit(limit)
        )
        with self._read() as session:
            return [TaskInstanceRecord(**row._asdict()) for row in session.execute(query)]

    def latest_task_heartbeat(self) -> dt.datetime | None:
        """The newest heartbeat of any task instance, or None if none ever beat."""
        with self._read() as session:
            value = session.execute(select(func.max(_TI.heartbeat_at))).scalar()
        return None if value is None else as_aware_utc(value)
