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
        )

    @property
    def occupied_slots(self) -> int:
        """Slots held by running, queued and deferred task instances."""
        return self.running_slots + self.queued_slots + self.deferred_slots

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
            "deferred": self.deferred_slots,
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
    """The pool, who holds its slots (queued, running) and who waits (scheduled), by priority."""
    pool = get_pool(store, name)
    holders = store.pool_task_instances(name, OCCUPYING_STATES, limit=shown)
    waiters = store.pool_task_instances(name, [State.SCHEDULED], limit=shown)
    return PoolDetail(pool, tuple(holders), tuple(waiters))


def set_pool(store: Metastore, name: str, slots: int, description: str | None = None) -> None:
    """Create or resize a pool (and set its description, when given)."""
    store.set_pool(name, slots, description)


def delete_pool(store: Metastore, name: str) -> None:
    """Delete a pool; default_pool cannot be deleted."""
    store.delete_pool(name)


def read_pools_file(path: Path) -> dict[str, tuple[int, str | None]]:
    """Validate a pools file: {"name": {"slots": N, "description": "..."}}; all or nothing."""
    document = read_object(path, "pools", PoolError, '{"name": {"slots": 4, "description": "..."}}')
    found: dict[str, tuple[int, str | None]] = {}
    for name, entry in document.items():
        slots = entry.get("slots") if isinstance(entry, dict) else None
        description = entry.get("description") if isinstance(entry, dict) else None
        try:
            found[validation.pool_name(name)] = (
                validation.slots(name, slots),
                validation.text(f"Pool {name!r}'s description", description),
            )
        except TaskkitError as exc:
            raise PoolError(f"In pools file {path}: {exc}") from None
    return found


def import_pools(store: Metastore, path: Path) -> list[str]:
    """Create or update every pool in the file; the names, in the file's order."""
    wanted = read_pools_file(path)
    for name, (slots, description) in wanted.items():
        store.set_pool(name, slots, description)
    return list(wanted)


def export_pools(store: Metastore, path: Path) -> int:
    """Write every pool to the file in the format `import_pools` reads; how many."""
    document = {
        p.name: {"slots": p.slots, "description": p.description or ""} for p in store.list_pools()
    }
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise PoolError(f"Cannot write pools file {path}: {exc.strerror}.") from None
    return len(document)
