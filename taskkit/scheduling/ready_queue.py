"""Scheduled task instances kept in priority order, so each selection round never re-sorts."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.selection import Candidate, priority_key


class ReadyQueue:
    """Candidates in `priority_key` order; adding is O(log n), removing a batch O(n)."""

    def __init__(self) -> None:
        self._ordered: list[Candidate] = []
        self._keys: set[TaskInstanceKey] = set()

    def add(self, candidate: Candidate) -> None:
        if candidate.key in self._keys:
            return
        self._keys.add(candidate.key)
        bisect.insort(self._ordered, candidate, key=priority_key)

    def discard(self, keys: Iterable[TaskInstanceKey]) -> None:
        """Remove these keys (those not queued are ignored)."""
        gone = self._keys.intersection(keys)
        if not gone:
            return
        self._keys -= gone
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

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._ordered)
