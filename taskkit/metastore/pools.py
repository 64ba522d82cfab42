"""Pools: named slot budgets. Occupancy is always derived from task instance states."""

from __future__ import annotations

from sqlalchemy import case, delete, func, select

from taskkit import validation
from taskkit.errors import PoolError, PoolNotFoundError
from taskkit.metastore.records import PoolRecord
from taskkit.metastore.tables import PoolRow, TaskInstanceRow
from taskkit.metastore.units import UnitOfWork, rowcount, upsert_insert
from taskkit.model.task import DEFAULT_POOL
from taskkit.states import OCCUPYING_STATES, State


def _check_slots(name: str, slots: int) -> None:
    validation.pool_name(name)
    validation.slots(name, slots)


class PoolMethods(UnitOfWork):
    """Pool CRUD and the occupancy query."""

    def list_pools(self) -> list[PoolRecord]:
        """Every pool by name, with running, queued and deferred slot sums from task states."""
        ti = TaskInstanceRow
        running = func.sum(case((ti.state == State.RUNNING, ti.pool_slots), else_=0))
        queued = func.sum(case((ti.state == State.QUEUED, ti.pool_slots), else_=0))
        deferred = func.sum(case((ti.state == State.DEFERRED, ti.pool_slots), else_=0))
        used = (
            select(
                ti.pool,
                running.label("running"),
                queued.label("queued"),
                deferred.label("deferred"),
            )
            .where(ti.state.in_([*OCCUPYING_STATES, State.DEFERRED]))
            .group_by(ti.pool)
            .subquery()
        )
        query = (
            select(
                PoolRow.name,
                PoolRow.slots,
                PoolRow.description,
                PoolRow.include_deferred,
                used.c.running,
                used.c.queued,
                used.c.deferred,
            )
            .outerjoin(used, used.c.pool == PoolRow.name)
            .order_by(PoolRow.name)
        )
        with self._read() as session:
            return [
                PoolRecord(
                    name,
                    slots,
                    description,
                    int(running or 0),
                    int(queued or 0),
                    bool(include),
                    int(deferred or 0),
                )
                for name, slots, description, include, running, queued, deferred in (
                    session.execute(query)
                )
            ]

    def get_pool_slots(self) -> dict[str, int]:
        """Each pool's size by name, for the scheduler's selection."""
        with self._read() as session:
            return dict(session.execute(select(PoolRow.name, PoolRow.slots)).all())

    def get_pool_limits(self) -> tuple[dict[str, int], frozenset[str]]:
        """Each pool's size by name, and the pools whose deferred task instances hold their
        slots: what the scheduler's selection needs, in one query."""
        query = select(PoolRow.name, PoolRow.slots, PoolRow.include_deferred)
        with self._read() as session:
            rows = session.execute(query).all()
        return {name: slots for name, slots, _ in rows}, frozenset(n for n, _, i in rows if i)

    def set_pool(
        self,
        name: str,
        slots: int,
        description: str | None = None,
        *,
        include_deferred: bool | None = None,
    ) -> None:
        """Create the pool or change its slots (and description and include_deferred, when
        given; a new pool does not include deferred tasks unless told to)."""
        _check_slots(name, slots)
        validation.text("A pool's description", description)
        with self._write() as session:
            query = upsert_insert(session, PoolRow).values(
                name=name,
                slots=slots,
                description=description,
                include_deferred=bool(include_deferred),
            )
            keep = {"slots": query.excluded.slots}
            if description is not None:
                keep["description"] = query.excluded.description
            if include_deferred is not None:
                keep["include_deferred"] = query.excluded.include_deferred
            session.execute(query.on_conflict_do_update(index_elements=["name"], set_=keep))

    def ensure_pool(self, name: str, slots: int, description: str | None = None) -> bool:
        """Create the pool if it is missing, leaving an existing one alone; True if created."""
        _check_slots(name, slots)
        with self._write() as session:
            query = upsert_insert(session, PoolRow).values(
                name=name, slots=slots, description=description
            )
            return bool(rowcount(session.execute(query.on_conflict_do_nothing())))

    def delete_pool(self, name: str) -> None:
        """Delete a pool; default_pool cannot be deleted and an unknown name is an error.

        Task instances still naming the pool then fail with "pool does not exist".
        """
        if name == DEFAULT_POOL:
            raise PoolError(f"{DEFAULT_POOL} cannot be deleted; set its slots instead.")
        with self._write() as session:
            deleted = rowcount(session.execute(delete(PoolRow).where(PoolRow.name == name)))
        if not deleted:
            raise PoolNotFoundError(name)
