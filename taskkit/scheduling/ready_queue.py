"""Scheduled task instances kept in priority order, so each selection round never re-sorts."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping

from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.selection import Candidate, priority_key


class ReadyQueue:
    """Candidates in `priority_key` order; adding is O(log n), removing a batch O(n)."""

    def __init__(self) -> None:
        self._ordered: list[Candidate] = []
        self._keys: set[TaskInstanceKey] = set()
        self._per_dag: Counter[str] = Counter()

    def add(self, candidate: Candidate) -> None:
        if candidate.key in self._keys:
            return
        self._keys.add(candidate.key)
        self._per_dag[candidate.key.dag_id] += 1
        bisect.insort(self._ordered, candidate, key=priority_key)

    def discard(self, keys: Iterable[TaskInstanceKey]) -> None:
        """Remove these keys (those not queued are ignored)."""
        gone = self._keys.intersection(keys)
        if not gone:
            return
        self._keys -= gone
        for key in gone:
            self._per_dag[key.dag_id] -= 1
            if not self._per_dag[key.dag_id]:
                del self._per_dag[key.dag_id]
        # Usually the highest-priority candidates started: drop a prefix without a rebuild.
        prefix = 0
        for candidate in self._ordered:
            if candidate.key not in gone:
                break
            prefix += 1
        if prefix == len(gone):
            del self._ordered[:prefix]
        else:
            self._ordered = [c for c in self._ordered if c.key not in gone]

    def ordered(self) -> list[Candidate]:
        """The candidates, highest priority first (do not modify)."""
        return self._ordered

    def per_dag(self) -> Mapping[str, int]:
        """How many candidates each DAG has (do not modify)."""
        return self._per_dag

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._ordered)
