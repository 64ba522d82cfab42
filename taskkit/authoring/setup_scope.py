"""`with teardown_task:` and `with setup_task:`: the tasks created inside run between them.

Airflow's context manager on setup and teardown tasks (2.7+):

    with delete_cluster(create_cluster()):   # a teardown whose setup is create_cluster
        run_query() >> load()

makes `create_cluster >> run_query` and `load >> delete_cluster`. The scope's
setups are the task itself if it is a setup, else the setups directly upstream
of it; its teardowns likewise. When the block ends, each task created in it
with no upstream task runs after the setups, and each with no downstream task
before the teardowns. Setup and teardown tasks created inside a nested scope
are tasks like the others here, so an inner scope runs between the outer
setups and teardowns, as in Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskkit.errors import DagDefinitionError

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator

#: Each open scope: its task, and how many tasks its DAG had when the scope opened.
_open: list[tuple[BaseOperator, int]] = []


def enter(task: BaseOperator) -> None:
    """Open a scope on `task`, which must be a setup or a teardown task."""
    if not (task.is_setup or task.is_teardown):
        raise DagDefinitionError(
            f"DAG {task.dag.dag_id!r}: `with` on task {task.task_id!r} needs a setup or "
            "teardown task; mark it with @setup / @teardown, .as_setup() or .as_teardown()."
        )
    _open.append((task, len(task.dag.task_dict)))


def leave(task: BaseOperator, *, failed: bool) -> None:
    """Close `task`'s scope: wire what was created in it between its setups and teardowns."""
    opened, count = _open.pop()
    assert opened is task, "setup/teardown scopes closed out of order"
    if failed:
        return  # the DAG file raised: leave the graph as it is, the error says what happened
    dag = task.dag
    upstream = [dag.task_dict[t] for t in sorted(task.upstream_task_ids)]
    downstream = [dag.task_dict[t] for t in sorted(task.downstream_task_ids)]
    setups = [task] if task.is_setup else [t for t in upstream if t.is_setup]
    teardowns = [task] if task.is_teardown else [t for t in downstream if t.is_teardown]
    edges = {id(t) for t in (*setups, *teardowns)}
    inside = [t for t in list(dag.task_dict.values())[count:] if id(t) not in edges]
    roots = [t for t in inside if not t.upstream_task_ids]
    leaves = [t for t in inside if not t.downstream_task_ids]
    for setup in setups:
        for root in roots:
            setup.add_edge_to(root)
    for leaf in leaves:
        for teardown in teardowns:
            leaf.add_edge_to(teardown)
