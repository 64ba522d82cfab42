"""Branching, short circuits, skip and fail exceptions, as Airflow users write them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import (
    DAG,
    AirflowFailException,
    AirflowSkipException,
    BaseBranchOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
    dag,
    task,
)
from taskkit.states import RunState, State


def test_task_branch_runs_the_chosen_path_and_skips_the_other() -> None:
    """@task.branch returns a task id: that path runs, the other is skipped, the join runs."""

    @dag
    def branching() -> None:
        @task.branch
        def pick(params: Any) -> str:
            return "big" if params.get("n", 0) > 10 else "small"

        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        big, small = EmptyOperator(task_id="big"), EmptyOperator(task_id="small")
        pick() >> [big, small] >> join

    result = branching().test(conf={"n": 1})
    assert result.task_states == {
        "pick": State.SUCCESS,
        "big": State.SKIPPED,
        "small": State.SUCCESS,
        "join": State.SUCCESS,
    }
    assert result.xcom("pick") == "small"
    assert result.state is RunState.SUCCESS


def test_branch_python_operator_may_choose_several_or_none() -> None:
    """A list follows several paths; None skips every direct downstream task."""
    for choice, expected in [(["a", "b"], {"a", "b"}), (None, set())]:
        with DAG("bpo") as d:
            branch = BranchPythonOperator(task_id="branch", python_callable=lambda c=choice: c)
            branch >> [EmptyOperator(task_id=t) for t in ("a", "b", "c")]
        states = d.test().task_states
        assert {t for t in "abc" if states[t] is State.SUCCESS} == expected
        assert {t for t in "abc" if states[t] is State.SKIPPED} == set("abc") - expected


def test_base_branch_operator_subclasses_choose_with_choose_branch() -> None:
    """A custom BaseBranchOperator follows what choose_branch returns."""

    class Weekend(BaseBranchOperator):
        def choose_branch(self, context: Any) -> str:
            return "rest" if context["logical_date"].weekday() >= 5 else "work"

    with DAG("custom_branch") as d:
        Weekend(task_id="day") >> [EmptyOperator(task_id="rest"), EmptyOperator(task_id="work")]

    states = d.test(logical_date=dt.datetime(2026, 1, 3)).task_states  # a Saturday
    assert (states["rest"], states["work"]) == (State.SUCCESS, State.SKIPPED)


def test_a_branch_to_a_task_that_is_not_directly_downstream_fails_with_the_choices() -> None:
    """Choosing a task that is not a direct downstream task fails the branch, naming the fix."""
    with DAG("bad_branch") as d:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "far")
        branch >> EmptyOperator(task_id="near") >> EmptyOperator(task_id="far")
    result = d.test()
    assert result.task_states["branch"] is State.FAILED
    assert "is not one of its direct downstream tasks (near)" in result.logs("branch")
    assert result.task_states["near"] is State.UPSTREAM_FAILED


def test_a_branch_returning_something_else_fails_clearly() -> None:
    """A branch returning a number is an error naming what to return."""
    with DAG("bad_branch_value") as d:
        BranchPythonOperator(task_id="branch", python_callable=lambda: 3) >> EmptyOperator(
            task_id="a"
        )
    result = d.test()
    assert "return a task id, a list of task ids, or None" in result.logs("branch")


def test_skips_propagate_through_all_success_but_not_past_all_done() -> None:
    """Downstream of a skipped path, all_success tasks skip and an all_done task runs."""
    with DAG("propagate") as d:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "kept")
        dropped = EmptyOperator(task_id="dropped")
        after = EmptyOperator(task_id="after")
        final = EmptyOperator(task_id="final", trigger_rule="all_done")
        branch >> [EmptyOperator(task_id="kept"), dropped]
        dropped >> after >> final
    states = d.test().task_states
    assert (states["dropped"], states["after"], states["final"]) == (
        State.SKIPPED,
        State.SKIPPED,
        State.SUCCESS,
    )


@pytest.mark.parametrize("ignore", [True, False])
def test_short_circuit_skips_downstream_by_its_rule(ignore: bool) -> None:
    """A falsy condition skips all descendants, or only direct ones when trigger rules count."""
    with DAG("short") as d:
        check = ShortCircuitOperator(
            task_id="check", python_callable=lambda: 0, ignore_downstream_trigger_rules=ignore
        )
        (
            check
            >> EmptyOperator(task_id="next")
            >> EmptyOperator(task_id="done", trigger_rule="all_done")
        )
    states = d.test().task_states
    assert states["next"] is State.SKIPPED
    assert states["done"] is (State.SKIPPED if ignore else State.SUCCESS)


def test_task_short_circuit_lets_a_truthy_condition_through() -> None:
    """@task.short_circuit returning a truthy value runs the rest and pushes the value."""

    @dag
    def gate() -> None:
        @task.short_circuit
        def ready() -> list[int]:
            return [1]

        ready() >> EmptyOperator(task_id="go")

    result = gate().test()
    assert result.task_states["go"] is State.SUCCESS
    assert result.xcom("ready") == [1]


def test_skip_exception_skips_and_fail_exception_spends_no_retry() -> None:
    """AirflowSkipException skips the task; AirflowFailException fails it without retrying."""

    def skip() -> None:
        raise AirflowSkipException("nothing to do")

    def fail() -> None:
        raise AirflowFailException("bad input, retrying cannot help")

    with DAG("exceptions", default_args={"retries": 3, "retry_delay": 0}) as d:
        PythonOperator(task_id="skip", python_callable=skip)
        PythonOperator(task_id="fail", python_callable=fail)
    result = d.test()
    assert result.task_states == {"skip": State.SKIPPED, "fail": State.FAILED}
    assert result.try_number("fail") == 1
    assert "bad input, retrying cannot help" in result.logs("fail")


def test_a_branch_may_choose_a_task_group_by_its_id() -> None:
    """Returning a TaskGroup's id follows the group's root tasks; the other path is skipped."""
    with DAG("branch_group") as d:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "load")
        with TaskGroup("load") as load:
            EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
        branch >> [load, EmptyOperator(task_id="other")]
    states = d.test().task_states
    assert states["load.first"] is State.SUCCESS and states["load.second"] is State.SUCCESS
    assert states["other"] is State.SKIPPED
