"""The DAG flags the scheduler holds, read incrementally so an idle refresh costs no O(DAGs).

With 10,000 DAGs, reading every DAG's flags twice a second costs ~100 ms
per refresh (docs/performance.md). Writers stamp `dag.updated_at` on every
change (parse, pause, deactivation), so a refresh reads only the rows stamped
since its previous read, minus a margin for transactions that committed late
or on a host whose clock lags. A full read every FULL_READ_EVERY heals
anything a lagging clock beyond that margin could still hide.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from taskkit.metastore.records import DagFlags

#: Rows stamped this long before the previous read are read again.
LATE_COMMIT_MARGIN = dt.timedelta(seconds=5)
#: How often every DAG's flags are read, whatever their stamps say.
FULL_READ_EVERY = dt.timedelta(seconds=60)


class FlagSource(Protocol):
    """Where the flags come from: the metastore."""

    def list_dag_flags(self, changed_since: dt.datetime | None = None) -> list[DagFlags]: ...


@attrs.define
class DagFlagBook:
    """Every DAG's flags by dag_id, with the paused ones as a set for the hot paths."""

    flags: dict[str, DagFlags] = attrs.Factory(dict)
    paused: set[str] = attrs.Factory(set)
    _read_at: dt.datetime | None = None
    _full_read_at: dt.datetime | None = None

    def refresh(self, store: FlagSource, now: dt.datetime) -> set[str]:
        """Read what changed since the last refresh; return the ids of DAGs whose flags changed."""
        full = self._full_read_at is None or now - self._full_read_at >= FULL_READ_EVERY
        since = None if full or self._read_at is None else self._read_at - LATE_COMMIT_MARGIN
        rows = store.list_dag_flags(changed_since=since)
        self._read_at = now
        if full:
            self._full_read_at = now
        changed = {row.dag_id for row in rows if self.flags.get(row.dag_id) != row}
        for row in rows:
            self.flags[row.dag_id] = row
        for dag_id in changed:
            if self.flags[dag_id].is_paused:
                self.paused.add(dag_id)
            else:
                self.paused.discard(dag_id)
        return changed

    def max_active_runs(self, dag_id: str) -> int | None:
        """The DAG's own max_active_runs; None when it sets none (or is unknown)."""
        flags = self.flags.get(dag_id)
        return None if flags is None else flags.max_active_runs
