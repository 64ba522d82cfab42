"""Which DAG and TaskGroup are being defined now, and who collects the DAGs a file creates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from taskkit.authoring.dag import DAG
    from taskkit.authoring.taskgroup import TaskGroup

_dag_stack: list[DAG] = []
_group_stack: list[TaskGroup] = []
_collectors: list[list[DAG]] = []


def current_dag() -> DAG | None:
    """The innermost DAG whose `with` block (or @dag function) is running."""
    return _dag_stack[-1] if _dag_stack else None


def push_dag(dag: DAG) -> None:
    _dag_stack.append(dag)


def pop_dag(dag: DAG) -> None:
    if not _dag_stack or _dag_stack[-1] is not dag:
        raise RuntimeError(f"DAG {dag.dag_id!r} left its context out of order")
    _dag_stack.pop()


def current_group(dag: DAG) -> TaskGroup | None:
    """The innermost TaskGroup whose `with` block is running for `dag`, if any."""
    for group in reversed(_group_stack):
        if group.dag is dag:
            return group
    return None


def push_group(group: TaskGroup) -> None:
    _group_stack.append(group)


def pop_group(group: TaskGroup) -> None:
    if not _group_stack or _group_stack[-1] is not group:
        raise RuntimeError(f"TaskGroup {group.group_id!r} left its context out of order")
    _group_stack.pop()


def announce(dag: DAG) -> None:
    """Tell the active collector (the DAG processor, if any) that a DAG was created."""
    if _collectors:
        _collectors[-1].append(dag)


class collect_dags:  # lower-case: used as a context manager, reads like a function
    """Gather every DAG created inside the block, bound to a name or not.

    This is how the DAG processor finds DAGs built in loops or never bound to
    a module-level name, as Airflow's auto-registration does.
    """

    def __init__(self) -> None:
        self.dags: list[DAG] = []

    def __enter__(self) -> list[DAG]:
        _collectors.append(self.dags)
        return self.dags

    def __exit__(self, *exc: object) -> None:
        _collectors.remove(self.dags)

    def __iter__(self) -> Iterator[DAG]:
        return iter(self.dags)
