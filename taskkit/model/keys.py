"""Identifiers of runs and task instances."""

from __future__ import annotations

import attrs


@attrs.frozen(order=True, cache_hash=True)
class TaskInstanceKey:
    """Names one task instance: a task in one run of one DAG.

    The hash is cached: keys live in the sets and dicts of every hot path.
    """

    dag_id: str
    run_id: str
    task_id: str

    def __str__(self) -> str:
        return f"{self.dag_id}/{self.run_id}/{self.task_id}"
