"""Identifiers of runs and task instances."""

from __future__ import annotations

import attrs


@attrs.frozen(order=True, cache_hash=True)
class TaskInstanceKey:
    """Names one task instance: a task in one run of one DAG, and which of its mapped copies.

    `map_index` is -1 for a task that is not mapped (and for a mapped task
    before it is expanded), 0..n-1 for the instances of a mapped task.
    The hash is cached: keys live in the sets and dicts of every hot path.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def __str__(self) -> str:
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}/{self.run_id}/{self.task_id}{mapped}"
