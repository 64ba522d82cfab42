"""Which of a run's XComs a try can pull, with no I/O (values stay encoded).

A try gets its own values and its ancestors'; a mapped ancestor's values under
one key come as one EncodedXComSequence in map-index order (the reduce step),
and an ancestor in the instance's own mapped task group gives the values of the
same map index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskkit.model.dag import DagSpec
from taskkit.model.results import EncodedXComSequence
from taskkit.scheduling.instances import NO_XCOMS, Expanded, XComMap

#: Values by (task_id, key).
Values = dict[tuple[str, str], Any]


def pullable(
    spec: DagSpec,
    xcoms: XComMap,
    pushers: Mapping[str, int],
    expanded: Mapping[str, Expanded],
    *,
    task_id: str,
    map_index: int,
) -> Values:
    """The values a try of an instance can pull: its own and those of its ancestors.

    `pushers` counts, per task, its instances holding values: the walk upstream
    stops once every pusher was found, so a run whose tasks push nothing pays nothing.
    """
    if not xcoms:
        return {}
    found: Values = {}
    remaining = len(pushers)
    own = xcoms.get((task_id, map_index))
    if own:
        remaining -= 1
        found.update(((task_id, key), value) for key, value in own.items())
    group = spec.tasks[task_id].mapped_group if map_index >= 0 else None
    seen = {task_id}
    pending = list(spec.tasks[task_id].upstream)
    seen.update(pending)
    while pending and remaining:
        current = pending.pop()
        if current in pushers:
            remaining -= 1
            paired = group is not None and spec.tasks[current].mapped_group == group
            found.update(task_values(xcoms, expanded, current, map_index if paired else None))
        for upstream in spec.tasks[current].upstream:
            if upstream not in seen:
                seen.add(upstream)
                pending.append(upstream)
    return found


def task_values(
    xcoms: XComMap, expanded: Mapping[str, Expanded], task_id: str, map_index: int | None
) -> Values:
    """One task's values: one instance's, or (`map_index` None) the task's as a whole.

    As a whole, a mapped task's values are gathered in map-index order, one
    sequence per key; an unmapped task's are its own.
    """
    if map_index is None and task_id in expanded:
        return _gathered(xcoms, expanded[task_id].count, task_id)
    values = xcoms.get((task_id, -1 if map_index is None else map_index), NO_XCOMS)
    return {(task_id, key): value for key, value in values.items()}


def _gathered(xcoms: XComMap, count: int, task_id: str) -> Values:
    """A mapped task's values, one sequence per key, in map-index order."""
    by_key: dict[str, tuple[list[Any], list[int]]] = {}
    for map_index in range(count):
        for key, value in xcoms.get((task_id, map_index), NO_XCOMS).items():
            values, indexes = by_key.setdefault(key, ([], []))
            values.append(value)
            indexes.append(map_index)
    return {
        (task_id, key): EncodedXComSequence(tuple(values), tuple(indexes))
        for key, (values, indexes) in by_key.items()
    }
