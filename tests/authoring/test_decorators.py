"""`@task`: bare and configured, task_id suffixes, .override() and XCom wiring."""

from __future__ import annotations

import datetime as dt

from taskkit import DAG, EmptyOperator, XComArg, dag, task


@task
def produce() -> int:
    return 1


@task
def consume(*args: object, **kwargs: object) -> None:
    return None


def test_task_works_bare_and_with_arguments() -> None:
    """`@task` and `@task(...)` both make task functions whose settings reach the operator."""

    @task(pool="db", pool_slots=2, priority_weight=7, retries=3)
    def configured() -> None:
        return None

    with DAG("deco") as d:
        produce()
        configured()
    op = d.get_task("configured")
    assert (op.pool, op.pool_slots, op.priority_weight, op.retries) == ("db", 2, 7, 3)
    assert d.get_task("produce").pool == "default_pool"


def test_calling_a_task_function_again_suffixes_the_task_id() -> None:
    """The second and third calls in one DAG get task ids `__1` and `__2`."""
    with DAG("suffixes") as d:
        produce()
        produce()
        produce()
    assert d.task_ids == ["produce", "produce__1", "produce__2"]


def test_override_reuses_a_function_under_another_task_id_and_settings() -> None:
    """`.override(task_id=..., retries=...)` makes a differently configured task."""
    with DAG("override") as d:
        produce.override(task_id="first", retries=2)()
        produce.override(pool="other")()
    assert d.get_task("first").retries == 2
    assert d.get_task("produce").pool == "other"
    assert produce.task_kwargs == {}


def test_passing_an_output_adds_the_edge() -> None:
    """Calling a task function with another's output makes that task upstream."""
    with DAG("wire") as d:
        consume(produce())
    assert d.get_task("consume").upstream_task_ids == {"produce"}


def test_outputs_nested_in_lists_and_dicts_add_edges() -> None:
    """XComArgs inside lists, tuples and dict values are found and wired."""
    with DAG("nested") as d:
        a = produce()
        b = produce()
        c = produce()
        consume([a, (b,)], mapping={"k": c})
    assert d.get_task("consume").upstream_task_ids == {"produce", "produce__1", "produce__2"}


def test_calling_a_task_function_returns_an_xcomarg_for_its_operator() -> None:
    """The call's result names the new task and carries the default key."""
    with DAG("xcomarg") as d:
        out = produce()
    assert isinstance(out, XComArg)
    assert out.operator is d.get_task("produce")
    assert out.key == "return_value"


def test_classic_operators_expose_their_output() -> None:
    """`operator.output` is an XComArg that wires a classic operator into a task function."""
    with DAG("classic_output") as d:
        start = EmptyOperator(task_id="start")
        consume(start.output)
    assert d.get_task("consume").upstream_task_ids == {"start"}


def test_the_decorated_function_keeps_its_name_and_doc() -> None:
    """Task and DAG functions keep the wrapped function's name and docstring."""

    @dag
    def documented() -> None:
        """Docs."""

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Docs."
    assert produce.__name__ == "produce"


def test_task_bash_runs_the_returned_command_rendered() -> None:
    """@task.bash: the function gets upstream values, returns a command; the command is
    rendered as a template and run, and its last line of output is the task's value."""

    @task
    def rows() -> int:
        return 3

    @task.bash(env={"GREETING": "hi"}, append_env=True)
    def report(count: int) -> str:
        return f'echo "$GREETING {count} rows on {{{{ ds }}}}"'

    @task.bash
    def skipper() -> str:
        return "exit 99"

    with DAG("bash_deco") as d:
        report(rows())
        skipper()
    result = d.test(logical_date=dt.datetime(2026, 3, 1))
    assert result.xcom("report") == "hi 3 rows on 2026-03-01"
    assert "hi 3 rows on 2026-03-01" in result.logs("report")
    assert result.task_states["skipper"] == "skipped"


def test_task_bash_returning_no_command_fails_the_try_saying_why() -> None:
    """A @task.bash function that returns None (forgot `return`) fails, naming the fix."""

    @task.bash
    def forgot() -> None:
        print("echo hi")

    with DAG("bash_none") as d:
        forgot()
    result = d.test()
    assert result.state == "failed"
    assert "must return the bash command to run, a non-empty string" in result.logs("forgot")
