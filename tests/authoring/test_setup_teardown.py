"""Setup and teardown tasks: cleaning up always runs, and never hides the work's failure."""

from __future__ import annotations

from taskkit import DAG, EmptyOperator, PythonOperator, dag, setup, task, teardown
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
