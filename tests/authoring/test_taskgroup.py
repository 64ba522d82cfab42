"""TaskGroup and @task_group: prefixed ids, nesting, group default_args, wiring as one node."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import DAG, EmptyOperator, TaskGroup, dag, task, task_group
from taskkit.errors import DagAssignmentError, DagDefinitionError, DuplicateGroupIdError


def test_tasks_in_a_group_get_prefixed_ids_and_know_their_group() -> None:
    """A task created in `with TaskGroup("g")` is `g.<id>` and records its group."""
    with DAG("tg_prefix") as d, TaskGroup("extract") as group:
        a = EmptyOperator(task_id="a")
    assert a.task_id == "extract.a"
    assert a.task_group is group
    assert d.get_task("extract.a") is a
    assert group.children == {"extract.a": a}
    assert d.task_group.children == {"extract": group}


def test_prefix_group_id_false_keeps_task_ids() -> None:
    """`prefix_group_id=False` leaves the tasks' own ids."""
    with DAG("tg_noprefix"), TaskGroup("g", prefix_group_id=False):
        a = EmptyOperator(task_id="a")
    assert a.task_id == "a"


def test_nested_groups_prefix_with_the_whole_path() -> None:
    """A group inside a group prefixes its tasks with both ids."""
    with DAG("tg_nested") as d, TaskGroup("outer") as outer:
        with TaskGroup("inner", tooltip="the inner one") as inner:
            a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
    assert inner.group_id == "outer.inner"
    assert inner.parent_group is outer
    assert inner.tooltip == "the inner one"
    assert a.task_id == "outer.inner.a"
    assert b.task_id == "outer.b"
    assert list(outer) == [a, b]
    assert set(outer.children) == {"outer.inner", "outer.b"}
    assert d.task_ids == ["outer.inner.a", "outer.b"]


def test_group_default_args_merge_over_the_dags() -> None:
    """Group default_args override the DAG's for tasks in the group; an inner group's win."""
    with DAG("tg_defaults", default_args={"retries": 1, "pool": "p"}):
        with TaskGroup("g", default_args={"retries": 3}):
            with TaskGroup("h", default_args={"pool_slots": 2}):
                inner = EmptyOperator(task_id="inner")
            in_group = EmptyOperator(task_id="x")
        outside = EmptyOperator(task_id="y")
    assert (inner.retries, inner.pool, inner.pool_slots) == (3, "p", 2)
    assert (in_group.retries, in_group.pool, in_group.pool_slots) == (3, "p", 1)
    assert (outside.retries, outside.pool) == (1, "p")


def test_group_between_tasks_wires_its_roots_and_leaves() -> None:
    """`start >> group >> end` links start to the group's first tasks and its last ones to end."""
    with DAG("tg_wire") as d:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as group:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            a >> [b, c]
        end = EmptyOperator(task_id="end")
        start >> group >> end
    assert start.downstream_task_ids == {"g.a"}
    assert end.upstream_task_ids == {"g.b", "g.c"}
    assert [t.task_id for t in group.roots] == ["g.a"]
    assert d.spec.tasks["end"].upstream == frozenset({"g.b", "g.c"})


def test_groups_in_lists_and_between_groups() -> None:
    """`[g1, g2] >> g3` links every leaf of g1 and g2 to every root of g3."""
    with DAG("tg_lists"):
        with TaskGroup("g1"):
            a = EmptyOperator(task_id="a")
        with TaskGroup("g2") as g2:
            b = EmptyOperator(task_id="b")
        with TaskGroup("g3") as g3:
            c = EmptyOperator(task_id="c")
        [a.task_group, g2] >> g3
    assert c.upstream_task_ids == {"g1.a", "g2.b"}
    assert b.downstream_task_ids == {"g3.c"}


def test_group_id_clashing_with_a_task_id_is_a_definition_error() -> None:
    """A group named like an existing task (or a task named like a group) fails, naming both."""
    with DAG("tg_clash"):
        EmptyOperator(task_id="load")
        with pytest.raises(DuplicateGroupIdError, match="'load' is already the id of a task"):
            TaskGroup("load")
    with DAG("tg_clash2"):
        with TaskGroup("load"):
            pass
        with pytest.raises(DagDefinitionError, match="already the id of a TaskGroup"):
            EmptyOperator(task_id="load")


def test_two_groups_with_one_id_are_a_definition_error() -> None:
    """A second TaskGroup with the same id fails unless add_suffix_on_collision is set."""
    with DAG("tg_twice"):
        TaskGroup("g")
        with pytest.raises(DuplicateGroupIdError, match="another TaskGroup"):
            TaskGroup("g")
        assert TaskGroup("g", add_suffix_on_collision=True).group_id == "g__1"


def test_bad_group_ids_and_groups_outside_a_dag_are_rejected() -> None:
    """A group id with a dot, or a group created outside any DAG, fails with the fix."""
    with DAG("tg_bad"), pytest.raises(DagDefinitionError, match=r"group_id 'a\.b' is not valid"):
        TaskGroup("a.b")
    with pytest.raises(DagAssignmentError, match="outside a DAG"):
        TaskGroup("lonely")


def test_task_functions_called_twice_in_a_group_get_unique_prefixed_ids() -> None:
    """Calling a @task twice inside a group gives `g.f` and `g.f__1`."""

    @task
    def f() -> int:
        return 1

    with DAG("tg_unique") as d, TaskGroup("g"):
        f()
        f()
    assert d.task_ids == ["g.f", "g.f__1"]


def test_task_group_decorator_returns_the_functions_value_or_the_group() -> None:
    """A @task_group call returns what the body returns, else the group; both wire with >>."""

    @task
    def one() -> int:
        return 1

    @task
    def plus(x: int) -> int:
        return x + 1

    @task_group
    def returns_output() -> object:
        """Adds one."""
        return plus(one())

    @task_group(group_id="quiet", tooltip="no return")
    def returns_nothing(n: int) -> None:
        for _ in range(n):
            one()

    @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
    def grouped() -> None:
        start = one.override(task_id="start")()
        out = returns_output()
        group = returns_nothing(2)
        returns_output()
        start >> out
        start >> group

    d = grouped()
    assert d.task_ids == [
        "start",
        "returns_output.one",
        "returns_output.plus",
        "quiet.one",
        "quiet.one__1",
        "returns_output__1.one",
        "returns_output__1.plus",
    ]
    assert d.get_task("start").downstream_task_ids == {
        "returns_output.plus",
        "quiet.one",
        "quiet.one__1",
    }
    first = d.get_task("returns_output.plus").task_group
    assert first.tooltip == "Adds one."
    assert first.function is not None and first.function.__name__ == "returns_output"
    quiet = d.get_task("quiet.one").task_group
    assert (quiet.call_args, quiet.call_kwargs, quiet.tooltip) == ((2,), {}, "no return")


def test_a_grouped_dag_runs_in_dependency_order() -> None:
    """A DAG wired through groups runs every task, each after its group's upstream."""
    order: list[str] = []

    @task
    def mark(name: str) -> str:
        order.append(name)
        return name

    @task_group
    def middle() -> None:
        mark.override(task_id="m1")("m1") >> mark.override(task_id="m2")("m2")

    with DAG("tg_run") as d:
        start = mark.override(task_id="start")("start")
        group = middle()
        end = mark.override(task_id="end")("end")
        start >> group >> end
    result = d.test()
    assert result.state == "success"
    assert order == ["start", "m1", "m2", "end"]
    assert result.xcom("middle.m2") == "m2"


def test_an_empty_group_passes_its_upstream_through() -> None:
    """`start >> group >> end` with nothing added to the group still runs start before end."""
    with DAG("tg_empty") as d:
        start = EmptyOperator(task_id="start")
        with TaskGroup("nothing") as group:
            for _ in range(0):
                EmptyOperator(task_id="never")
        end = EmptyOperator(task_id="end")
        start >> group >> end
    assert end.upstream_task_ids == {"start"}
    assert d.test().task_states["end"] == "success"
