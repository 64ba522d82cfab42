"""The frozen description of a DAG version: its tasks and its limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from taskkit.model.task import TaskSpec
from taskkit.model.timetables import Schedule


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
    schedule: Schedule = None
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    catchup: bool = False
    fileloc: str | None = None
    #: How long a run may take before it fails and its unfinished tasks are skipped.
    dagrun_timeout: dt.timedelta | None = None
    #: Whether the DAG has on_success_callback / on_failure_callback to call when a run ends.
    success_callbacks: bool = False
    failure_callbacks: bool = False

    @property
    def leaves(self) -> list[TaskSpec]:
        """Tasks with no downstream task."""
        return [t for t in self.tasks.values() if not t.downstream]

    @property
    def outcome_leaves(self) -> list[str]:
        """The tasks whose states decide the run's state, as Airflow picks them.

        A leaf, or a task whose downstream tasks are all teardowns that may
        fail quietly; such a teardown never decides the run itself, so a
        teardown that succeeded never hides the failure of the work it
        cleaned up after (unless `on_failure_fail_dagrun`). A DAG made only of
        teardowns falls back to its plain leaves.
        """

        def quiet(task: TaskSpec) -> bool:
            return task.is_teardown and not task.on_failure_fail_dagrun

        leaves = [
            t.task_id
            for t in self.tasks.values()
            if not quiet(t) and all(quiet(self.tasks[d]) for d in t.downstream)
        ]
        return leaves or [t.task_id for t in self.leaves]

    @property
    def depends_on_past(self) -> bool:
        """Whether any task waits on the previous run (depends_on_past, wait_for_downstream)."""
        return any(t.depends_on_past for t in self.tasks.values())

    def descendants(self, task_id: str) -> set[str]:
        """Every task downstream of `task_id`, however far."""
        found: set[str] = set()
        pending = [task_id]
        while pending:
            for child in self.tasks[pending.pop()].downstream:
                if child not in found:
                    found.add(child)
                    pending.append(child)
        return found

    @property
    def roots(self) -> list[TaskSpec]:
        """Tasks with no upstream task; they can start as soon as the run does."""
        return [t for t in self.tasks.values() if not t.upstream]
