"""The frozen description of a DAG version: its tasks and its limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from taskkit.model.task import TaskSpec


@attrs.frozen
class DagSpec:
    """A DAG as the scheduler sees it: task specs in topological order, plus limits.

    `tasks` preserves a topological order, so iterating it visits every
    upstream task before its downstream tasks.
    """

    dag_id: str
    tasks: Mapping[str, TaskSpec]
    max_active_runs: int | None = None
    max_active_tasks: int | None = None
    schedule: str | dt.timedelta | None = None
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    catchup: bool = False
    fileloc: str | None = None

    @property
    def leaves(self) -> list[TaskSpec]:
        """Tasks with no downstream task; their states decide the run's state."""
        return [t for t in self.tasks.values() if not t.downstream]

    @property
    def roots(self) -> list[TaskSpec]:
        """Tasks with no upstream task; they can start as soon as the run does."""
        return [t for t in self.tasks.values() if not t.upstream]
