"""Setup and teardown tasks: cleaning up always runs, and never hides the work's failure."""

from __future__ import annotations

import pytest

from taskkit import DAG, EmptyOperator, PythonOperator, dag, setup, task, task_group, teardown
from taskkit.errors import DagDefinitionError
from taskkit.states import RunState, State, TriggerRule


def _boom() -> None:
    raise RuntimeError("work failed")


def test_a_teardown_runs_after_failed_work_and_the_run_still_fails() -> None:
    """as_teardown(setups=...) runs the teardown; the run's state is the work's."""
    with DAG("st") as d:
        create = EmptyOperator(task_id="create")
        work = PythonOperator(task_id="work", python_callable=_boom)
        delete = EmptyOperator(task_id="delete").as_teardown(setups=create)
        create >> work >> delete
    result = d.test()
    assert result.task_states == {
        "create": State.SUCCESS,
        "work": State.FAILED,
        "delete": State.SUCCESS,
    }
    assert result.state is RunState.FAILED
    assert d.get_task("create").is_setup
    assert d.get_task("delete").trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS


def test_a_failed_teardown_does_not_fail_the_run_unless_asked() -> None:
    """A failing teardown leaves a good run successful; on_failure_fail_dagrun fails it."""
    for fail_run, expected in [(False, RunState.SUCCESS), (True, RunState.FAILED)]:
        with DAG("st_fail") as d:
            create = EmptyOperator(task_id="create").as_setup()
            clean = PythonOperator(task_id="clean", python_callable=_boom)
            create >> EmptyOperator(task_id="work") >> clean
            clean.as_teardown(setups=create, on_failure_fail_dagrun=fail_run)
        assert d.test().state is expected


def test_setup_and_teardown_decorators() -> None:
    """@setup and @teardown mark task functions; a failed setup leaves nothing to tear down."""

    @dag
    def decorated() -> None:
        @setup
        def make() -> str:
            raise RuntimeError("no cluster")

        @task
        def use(name: str) -> None: ...

        @teardown(on_failure_fail_dagrun=True)
        def drop() -> None: ...

        made, dropped = make(), drop()
        use(made) >> dropped
        made >> dropped

    d = decorated()
    states = d.test().task_states
    assert states == {
        "make": State.FAILED,
        "use": State.UPSTREAM_FAILED,
        "drop": State.UPSTREAM_FAILED,
    }
    assert d.get_task("make").is_setup and d.get_task("drop").on_failure_fail_dagrun


def test_the_tasks_made_inside_with_a_teardown_run_between_its_setups_and_it() -> None:
    """Airflow's `with delete(create()):`; a nested scope (here a task group's) runs inside
    the outer one, and a failed work task still gets its teardown."""

    @setup
    def create() -> str:
        return "cluster"

    @teardown
    def delete(cluster: str) -> None: ...

    @task
    def work(n: int) -> int:
        if n == 2:
            raise RuntimeError("work failed")
        return n

    @task_group
    def inner() -> None:
        with EmptyOperator(task_id="inner_delete").as_teardown(
            setups=EmptyOperator(task_id="inner_create")
        ):
            work.override(task_id="inner_work")(3)

    with DAG("scoped") as d:
        with delete(create()):
            work(1) >> work(2)
            inner()
        after = EmptyOperator(task_id="after")
    assert d.get_task("work").upstream_task_ids == {"create"}
    assert d.get_task("inner.inner_create").upstream_task_ids == {"create"}
    assert d.get_task("inner.inner_work").upstream_task_ids == {"inner.inner_create"}
    assert d.get_task("delete").upstream_task_ids == {"create", "work__1", "inner.inner_delete"}
    assert not after.upstream_task_ids  # made after the block: not in the scope
    result = d.test()
    assert result.task_states["work__1"] is State.FAILED
    assert result.task_states["delete"] is State.SUCCESS
    assert result.order.index("inner.inner_delete") < result.order.index("delete")
    assert result.state is RunState.FAILED


def test_with_on_a_setup_wires_its_teardowns_and_on_a_work_task_is_an_error() -> None:
    """`with create >> delete:` is a scope too (`>>` gives the teardown); a plain task is not."""
    with DAG("scoped_setup") as d:
        create = EmptyOperator(task_id="create").as_setup()
        delete = EmptyOperator(task_id="delete").as_teardown(setups=create)
        with create:
            EmptyOperator(task_id="work")
    assert d.get_task("work").upstream_task_ids == {"create"}
    assert delete.upstream_task_ids == {"create", "work"}
    with DAG("plain"), pytest.raises(DagDefinitionError) as err, EmptyOperator(task_id="plain"):
        pass
    assert str(err.value).startswith("DAG 'plain': `with` on task 'plain' needs a setup or")
