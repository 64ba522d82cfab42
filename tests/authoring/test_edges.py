"""Edge labels: `a >> Label("x") >> b` adds the edge and keeps the label for display."""

from __future__ import annotations

import pytest

from taskkit import DAG, EmptyOperator, Label, TaskGroup, chain
from taskkit.authoring.edges import EdgeInfo


def test_a_label_between_two_tasks_adds_the_edge_and_its_label() -> None:
    """`a >> Label("x") >> b` is the edge a -> b, labelled "x" on the DAG."""
    with DAG("lbl") as d:
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        a >> Label("rows found") >> b
    assert a.downstream_task_ids == {"b"}
    assert d.get_edge_info("a", "b") == EdgeInfo(label="rows found")
    assert d.edge_info == {("a", "b"): EdgeInfo("rows found")}
    assert d.get_edge_info("b", "a") is None


def test_labels_work_leftwards_with_lists_and_in_chain() -> None:
    """`b << Label(..) << a`, fan-out lists and chain() all label each edge they add."""
    with DAG("lbl2") as d:
        a, b, c, e = (EmptyOperator(task_id=t) for t in "abce")
        b << Label("left") << a
        a >> Label("fan") >> [c, e]
        chain(c, Label("chained"), e)
    assert b.upstream_task_ids == {"a"}
    assert d.get_edge_info("a", "b") == EdgeInfo("left")
    assert d.get_edge_info("a", "c") == EdgeInfo("fan")
    assert d.get_edge_info("c", "e") == EdgeInfo("chained")


def test_set_downstream_takes_an_edge_modifier() -> None:
    """`a.set_downstream(b, edge_modifier=Label("x"))` labels the edge, as in Airflow."""
    with DAG("lbl3") as d:
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        a.set_downstream(b, edge_modifier=Label("direct"))
        b.set_upstream(EmptyOperator(task_id="c"), edge_modifier=Label("up"))
    assert d.get_edge_info("a", "b") == EdgeInfo("direct")
    assert d.get_edge_info("c", "b") == EdgeInfo("up")


def test_a_label_into_a_group_labels_each_edge_to_its_roots() -> None:
    """`a >> Label("x") >> group` labels the edges from a to each root of the group."""
    with DAG("lbl4") as d:
        a = EmptyOperator(task_id="a")
        with TaskGroup("g") as group:
            EmptyOperator(task_id="r1")
            EmptyOperator(task_id="r2")
        a >> Label("into") >> group
    assert a.downstream_task_ids == {"g.r1", "g.r2"}
    assert d.get_edge_info("a", "g.r1") == d.get_edge_info("a", "g.r2") == EdgeInfo("into")


def test_a_label_alone_is_not_a_task() -> None:
    """Using a label where a task is needed, or labelling with a non-string, is a TypeError."""
    with DAG("lbl5"):
        a = EmptyOperator(task_id="a")
        with pytest.raises(TypeError, match="must sit between two tasks"):
            Label("x").as_operators()
        with pytest.raises(TypeError, match="Cannot label an edge from 3"):
            3 >> Label("x") >> a  # type: ignore[operator]
    with pytest.raises(TypeError, match="takes a string"):
        Label(5)  # type: ignore[arg-type]
