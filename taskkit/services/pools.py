"""Pools: their usage by state, who holds their slots and who waits, and changing them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from taskkit import validation
from taskkit.errors import PoolError, PoolNotFoundError, TaskkitError
from taskkit.services.json_files import read_object
from taskkit.states import OCCUPYING_STATES, State

if TYPE_CHECKING:
    from taskkit.metastore import Metastore, TaskInstanceRecord
    from taskkit.metastore.views import PoolUsage

#: How many holders and waiters the pools page lists per pool.
SHOWN_PER_POOL = 50


@attrs.frozen
class PoolView:
    """A pool in Airflow's /api/v2 shape: its slots split by what holds or wants them.

    `open_slots` never goes below 0 and the drawn parts never add up to more
    than `slots`, even right after the pool was shrunk below its use.
    """

    name: str
    slots: int
    description: str | None
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    deferred_slots: int
    #: Whether deferred task instances hold their slots (Airflow's flag); their slots are
    #: shown either way, and occupy the pool only when it is set.
    include_deferred: bool = False

    @classmethod
    def of(cls, usage: PoolUsage) -> PoolView:
        """From the metastore's usage row."""
        return cls(
            usage.name,
            usage.slots,
            usage.description,
            usage.running,
            usage.queued,
            usage.scheduled,
            usage.deferred,
            usage.include_deferred,
        )

    @property
    def occupied_slots(self) -> int:
        """Slots held by running and queued task instances, and deferred ones if included."""
        held = self.deferred_slots if self.include_deferred else 0
        return self.running_slots + self.queued_slots + held

    @property
    def open_slots(self) -> int:
        """Slots free right now (0 when the pool is over-committed)."""
        return max(0, self.slots - self.occupied_slots)

    def bar(self) -> dict[str, float]:
        """Percent of the bar for running, queued, deferred and open, summing to at most 100."""
        size = max(self.slots, self.occupied_slots, 1)
        parts = {
            "running": self.running_slots,
            "queued": self.queued_slots,
            "deferred": self.deferred_slots if self.include_deferred else 0,
            "open": self.open_slots,
        }
        return {k: round(100.0 * v / size, 2) for k, v in parts.items()}


@attrs.frozen
class PoolDetail:
    """A pool with the task instances that hold its slots and those waiting for it."""

    pool: PoolView
    holders: tuple[TaskInstanceRecord, ...]
    waiters: tuple[TaskInstanceRecord, ...]


def list_pools(store: Metastore) -> list[PoolView]:
    """Every pool with its usage, by name, in one query."""
    return [PoolView.of(u) for u in store.pool_usage()]


def get_pool(store: Metastore, name: str) -> PoolView:
    """One pool with its usage; PoolNotFoundError if there is none by that name."""
    for pool in list_pools(store):
        if pool.name == name:
            return pool
    raise PoolNotFoundError(name)


def pool_detail(store: Metastore, name: str, *, shown: int = SHOWN_PER_POOL) -> PoolDetail:
    """The pool, who holds its slots (queued, running; deferred when the pool includes them)
    and who waits (scheduled), by priority."""
    pool = get_pool(store, name)
    holding = [*OCCUPYING_STATES, State.DEFERRED] if pool.include_deferred else OCCUPYING_STATES
    holders = store.pool_task_instances(name, holding, limit=shown)
    waiters = store.pool_task_instances(name, [State.SCHEDULED], limit=shown)
    return PoolDetail(pool, tuple(holders), tuple(waiters))


def set_pool(
    store: Metastore,
    name: str,
    slots: int,
    description: str | None = None,
    *,
    include_deferred: bool | None = None,
) -> None:
    """Create or resize a pool (and set its description and include_deferred, when given)."""
    store.set_pool(name, slots, description, include_deferred=include_deferred)


def delete_pool(store: Metastore, name: str) -> None:
    """Delete a pool; default_pool cannot be deleted."""
    store.delete_pool(name)


@attrs.frozen
class PoolEntry:
    """One pool as a pools file describes it."""

    slots: int
    description: str | None = None
    #: None when the file does not say (an existing pool keeps its setting).
    include_deferred: bool | None = None


def read_pools_file(path: Path) -> dict[str, PoolEntry]:
    """Validate a pools file: {"name": {"slots": N, "description": "...",
    "include_deferred": false}}; all or nothing."""
    document = read_object(
        path,
        "pools",
        PoolError,
        '{"name": {"slots": 4, "description": "...", "include_deferred": false}}',
    )
    found: dict[str, PoolEntry] = {}
    for name, entry in document.items():
        slots = entry.get("slots") if isinstance(entry, dict) else None
        description = entry.get("description") if isinstance(entry, dict) else None
        include = entry.get("include_deferred") if isinstance(entry, dict) else None
        try:
            if include is not None and not isinstance(include, bool):
                raise PoolError(
                    f"Pool {name!r}'s include_deferred must be true or false, got {include!r}."
                )
            found[validation.pool_name(name)] = PoolEntry(
                validation.slots(name, slots),
                validation.text(f"Pool {name!r}'s description", description),
                include,
            )
        except TaskkitError as exc:
            raise PoolError(f"In pools file {path}: {exc}") from None
    return found


def import_pools(store: Metastore, path: Path) -> list[str]:
    """Create or update every pool in the file; the names, in the file's order."""
    wanted = read_pools_file(path)
    for name, entry in wanted.items():
        store.set_pool(
            name, entry.slots, entry.description, include_deferred=entry.include_deferred
        )
    return list(wanted)


def export_pools(store: Metastore, path: Path) -> int:
    """Write every pool to the file in the format `import_pools` reads; how many."""
    document = {
        p.name: {
            "slots": p.slots,
            "description": p.description or "",
            "include_deferred": p.include_deferred,
        }
        for p in store.list_pools()
    }
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise PoolError(f"Cannot write pools file {path}: {exc.strerror}.") from None
    return len(document)
