"""DAG: the `with DAG(...)` block, @dag, introspection and priority totals."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import DAG, EmptyOperator, WeightRule, dag, task
from taskkit.errors import DagDefinitionError, ScheduleError, TaskNotFoundError

START = dt.datetime(2026, 1, 1)


def test_operators_created_in_a_with_block_attach_to_the_dag() -> None:
    """Operators created inside `with DAG(...)` belong to that DAG, in creation order."""
    with DAG("classic", start_date=START, schedule=None) as d:
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
    assert d.dag_id == "classic"
    assert d.task_ids == ["a", "b"]
    assert d.tasks == [a, b]
    assert d.get_task("b") is b
    assert a.dag is d


def test_get_task_with_an_unknown_id_lists_the_known_ones() -> None:
    """Asking for a missing task names the DAG's tasks, and is a LookupError."""
    with DAG("lookup") as d:
        EmptyOperator(task_id="present")
    with pytest.raises(TaskNotFoundError, match="present") as info:
        d.get_task("absent")
    assert isinstance(info.value, LookupError)


def test_dag_decorator_works_bare_and_with_arguments() -> None:
    """`@dag` and `@dag(...)` return factories that build DAGs named after the function."""

    @dag
    def bare() -> None:
        EmptyOperator(task_id="t")

    @dag(schedule="@daily", start_date=START, max_active_runs=1, max_active_tasks=4)
    def configured() -> None:
        EmptyOperator(task_id="t")

    assert bare().dag_id == "bare"
    built = configured()
    assert built.dag_id == "configured"
    assert built.schedule == "@daily"
    assert built.spec.max_active_tasks == 4
    assert built.spec.max_active_runs == 1


def test_dag_decorator_accepts_an_explicit_dag_id_and_uses_the_docstring() -> None:
    """`dag_id=` overrides the function name and the docstring's first line is the description."""

    @dag(dag_id="renamed")
    def original() -> None:
        """Moves rows.

        More detail here.
        """
        EmptyOperator(task_id="t")

    built = original()
    assert built.dag_id == "renamed"
    assert built.description == "Moves rows."


def test_each_call_of_a_dag_function_builds_a_fresh_dag() -> None:
    """Calling a @dag function twice gives two independent DAG objects."""

    @dag
    def twice() -> None:
        EmptyOperator(task_id="t")

    first, second = twice(), twice()
    assert first is not second
    assert first.get_task("t") is not second.get_task("t")


def test_default_args_fill_unset_task_parameters_only() -> None:
    """default_args apply to every task unless the task sets the parameter itself."""
    defaults = {"retries": 2, "retry_delay": dt.timedelta(seconds=10), "pool": "db"}
    with DAG("defaults", default_args=defaults):
        inherits = EmptyOperator(task_id="inherits")
        overrides = EmptyOperator(task_id="overrides", retries=0, pool="other")
    assert (inherits.retries, inherits.retry_delay, inherits.pool) == (
        2,
        dt.timedelta(seconds=10),
        "db",
    )
    assert (overrides.retries, overrides.pool) == (0, "other")


def test_dag_parameters_are_kept() -> None:
    """Tags, params, description, catchup and dates are available on the DAG."""
    with DAG(
        "params",
        start_date=START,
        end_date=START + dt.timedelta(days=3),
        catchup=True,
        params={"x": 1},
        tags=["etl"],
        description="desc",
        schedule=dt.timedelta(hours=1),
    ) as d:
        EmptyOperator(task_id="t")
    assert d.params == {"x": 1}
    assert d.tags == ["etl"]
    assert d.description == "desc"
    assert d.catchup is True
    assert d.spec.schedule == dt.timedelta(hours=1)


def test_an_end_date_before_the_start_date_is_rejected() -> None:
    """A DAG whose end_date precedes its start_date fails where it is defined."""
    with pytest.raises(ScheduleError, match="end_date"):
        DAG("bad_dates", start_date=START, end_date=START - dt.timedelta(days=1))


@pytest.mark.parametrize("dag_id", ["", "has space", "slash/no"])
def test_an_invalid_dag_id_is_rejected(dag_id: str) -> None:
    """DAG ids may use letters, digits, '_', '-' and '.' only."""
    with pytest.raises(DagDefinitionError, match="not valid"):
        DAG(dag_id)


def test_priority_weight_totals_follow_airflow_semantics() -> None:
    """downstream sums each distinct descendant once, upstream each ancestor, absolute itself."""
    with DAG("weights"):
        root = EmptyOperator(task_id="root", priority_weight=1)
        left = EmptyOperator(task_id="left", priority_weight=2)
        right = EmptyOperator(task_id="right", priority_weight=3)
        join = EmptyOperator(task_id="join", priority_weight=10)
        up = EmptyOperator(task_id="up", priority_weight=5, weight_rule="upstream")
        alone = EmptyOperator(task_id="alone", priority_weight=4, weight_rule=WeightRule.ABSOLUTE)
        root >> [left, right] >> join >> up >> alone
    assert join.priority_weight_total == 10 + 5 + 4
    assert root.priority_weight_total == 1 + 2 + 3 + 10 + 5 + 4  # join counted once
    assert up.priority_weight_total == 5 + 10 + 2 + 3 + 1
    assert alone.priority_weight_total == 4


def test_negative_and_huge_weights_are_summed_exactly() -> None:
    """Totals are exact Python ints, negative weights included."""
    big = 2**40
    with DAG("exact") as d:
        a = EmptyOperator(task_id="a", priority_weight=-3)
        b = EmptyOperator(task_id="b", priority_weight=big)
        c = EmptyOperator(task_id="c", priority_weight=-7)
        a >> b >> c
    assert a.priority_weight_total == -3 + big - 7
    assert d.spec.tasks["b"].priority_weight_total == big - 7


def test_a_total_beyond_64_bits_is_rejected_at_definition_time() -> None:
    """Totals must fit the metastore's 64-bit column, so an overflowing sum fails early."""
    with pytest.raises(DagDefinitionError, match="64 bits"), DAG("overflow"):
        a = EmptyOperator(task_id="a", priority_weight=2**62)
        b = EmptyOperator(task_id="b", priority_weight=2**62)
        a >> b


def test_the_spec_follows_graph_changes_after_the_block() -> None:
    """Edges added after the `with` block are reflected in the DAG's spec and totals."""
    with DAG("late") as d:
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
    assert a.priority_weight_total == 1
    a >> b
    assert a.priority_weight_total == 2
    assert list(d.spec.tasks) == ["a", "b"]


def test_spec_lists_tasks_in_topological_order() -> None:
    """The DagSpec visits every upstream task before its downstream tasks."""
    with DAG("topo") as d:
        c = EmptyOperator(task_id="c")
        b = EmptyOperator(task_id="b")
        a = EmptyOperator(task_id="a")
        a >> b >> c
    assert list(d.spec.tasks) == ["a", "b", "c"]
    assert [t.task_id for t in d.spec.roots] == ["a"]
    assert [t.task_id for t in d.spec.leaves] == ["c"]


def test_task_functions_are_usable_inside_a_classic_dag() -> None:
    """@task functions called inside `with DAG(...)` attach to it."""

    @task
    def hello() -> str:
        return "hi"

    with DAG("mixed") as d:
        hello()
    assert d.task_ids == ["hello"]
