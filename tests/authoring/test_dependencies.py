"""`>>`, `<<`, lists, chain and cross_downstream set the edges users expect."""

from __future__ import annotations

import pytest

from taskkit import DAG, EmptyOperator, chain, chain_linear, cross_downstream, task


def _ops(dag_id: str, names: str) -> tuple[DAG, list[EmptyOperator]]:
    with DAG(dag_id) as d:
        ops = [EmptyOperator(task_id=n) for n in names]
    return d, ops


def test_shift_operators_set_edges_both_ways() -> None:
    """`a >> b` and `c << b` both make the right-hand or left-hand task run later."""
    _, (a, b, c) = _ops("shift", "abc")
    a >> b
    c << b
    assert a.downstream_task_ids == {"b"}
    assert b.upstream_task_ids == {"a"}
    assert b.downstream_task_ids == {"c"}
    assert c.upstream_task_ids == {"b"}


def test_lists_fan_out_and_in() -> None:
    """`a >> [b, c]` fans out and `[b, c] >> d` fans in."""
    _, (a, b, c, d) = _ops("lists", "abcd")
    a >> [b, c] >> d
    assert a.downstream_task_ids == {"b", "c"}
    assert d.upstream_task_ids == {"b", "c"}


def test_list_on_the_left_of_lshift() -> None:
    """`[a, b] << c` makes c upstream of both."""
    _, (a, b, c) = _ops("rlshift", "abc")
    [a, b] << c
    assert c.downstream_task_ids == {"a", "b"}


def test_repeating_an_edge_is_harmless() -> None:
    """Setting the same dependency twice keeps one edge."""
    d, (a, b) = _ops("twice", "ab")
    a >> b
    a >> b
    assert d.spec.tasks["b"].upstream == frozenset({"a"})


def test_chain_links_single_tasks_and_lists() -> None:
    """chain(a, [b, c], d) fans out from a and into d."""
    _, (a, b, c, d) = _ops("chain", "abcd")
    chain(a, [b, c], d)
    assert a.downstream_task_ids == {"b", "c"}
    assert d.upstream_task_ids == {"b", "c"}


def test_chain_pairs_adjacent_lists_elementwise() -> None:
    """chain([a, b], [c, d]) links a to c and b to d only, as Airflow does."""
    _, (a, b, c, d) = _ops("pairs", "abcd")
    chain([a, b], [c, d])
    assert a.downstream_task_ids == {"c"}
    assert b.downstream_task_ids == {"d"}


def test_chain_linear_links_each_element_to_all_of_the_next() -> None:
    """chain_linear(a, [b, c], [d, e, f], g) links every pair of adjacent elements, lists of
    different lengths included, where chain() would pair them or refuse."""
    _, (a, b, c, d, e, f, g) = _ops("linear", "abcdefg")
    chain_linear(a, [b, c], [d, e, f], g)
    assert a.downstream_task_ids == {"b", "c"}
    assert b.downstream_task_ids == c.downstream_task_ids == {"d", "e", "f"}
    assert g.upstream_task_ids == {"d", "e", "f"}
    assert a.upstream_task_ids == set()


def test_chain_linear_with_one_element_says_it_set_nothing() -> None:
    """chain_linear([a, b, c]) (a list not unpacked) is an error, as in Airflow, not a no-op."""
    _, (a, b, c) = _ops("linear_one", "abc")
    with pytest.raises(ValueError, match="forget to unpack a list with `\\*`"):
        chain_linear([a, b, c])


def test_cross_downstream_links_every_pair() -> None:
    """cross_downstream([a, b], [c, d]) makes each of a, b upstream of each of c, d."""
    _, (a, b, c, d) = _ops("cross", "abcd")
    cross_downstream([a, b], [c, d])
    assert c.upstream_task_ids == {"a", "b"}
    assert d.upstream_task_ids == {"a", "b"}


def test_task_outputs_take_part_in_dependencies() -> None:
    """A task function's output can be used on either side of `>>`."""

    @task
    def make() -> int:
        return 1

    with DAG("outputs") as d:
        first = make()
        last = EmptyOperator(task_id="last")
        first >> last
        chain(last, make())
    assert d.get_task("make").downstream_task_ids == {"last"}
    assert d.get_task("last").downstream_task_ids == {"make__1"}


def test_shifting_onto_something_that_is_not_a_task_says_so() -> None:
    """`a >> 3` raises a TypeError that says what may be used."""
    _, (a,) = _ops("typeerr", "a")
    with pytest.raises(TypeError, match="use an operator"):
        a >> 3  # type: ignore[operator]
