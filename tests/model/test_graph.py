"""Graph helpers: topological order, cycle paths and exact priority totals."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from taskkit.model.graph import find_cycle, priority_weight_totals, topological_order
from taskkit.states import WeightRule


def test_topological_order_puts_upstream_first_and_is_stable() -> None:
    """Every task comes after its upstream tasks; ties keep definition order."""
    edges = {"a": ["c"], "b": ["c"], "c": []}
    assert topological_order(edges) == ["a", "b", "c"]


def test_topological_order_is_none_for_a_cycle() -> None:
    """A cyclic graph has no topological order."""
    assert topological_order({"a": ["b"], "b": ["a"]}) is None


def test_find_cycle_returns_a_closed_path() -> None:
    """The cycle path starts and ends on the same task and follows real edges."""
    edges = {"x": ["a"], "a": ["b"], "b": ["c"], "c": ["a"]}
    cycle = find_cycle(edges)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert all(b in edges[a] for a, b in pairwise(cycle))
    assert set(cycle) == {"a", "b", "c"}


def test_find_cycle_handles_a_self_loop_and_deep_chains() -> None:
    """A task depending on itself is a cycle; a 10,000-long chain is not (no recursion)."""
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    chain = {str(i): [str(i + 1)] for i in range(10_000)}
    chain["10000"] = []
    assert find_cycle(chain) is None


def _brute_totals(
    order: list[str], down: dict[str, list[str]], weights: dict[str, int], rule: WeightRule
) -> dict[str, int]:
    up: dict[str, list[str]] = {t: [] for t in order}
    for parent, children in down.items():
        for child in children:
            up[child].append(parent)
    edges = down if rule is WeightRule.DOWNSTREAM else up

    def reach(task: str) -> set[str]:
        seen: set[str] = set()
        stack = list(edges[task])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
        return seen

    if rule is WeightRule.ABSOLUTE:
        return dict(weights)
    return {t: weights[t] + sum(weights[r] for r in reach(t)) for t in order}


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]], dict[str, int]]:
    n = draw(st.integers(1, 12))
    order = [f"t{i}" for i in range(n)]
    down: dict[str, list[str]] = {t: [] for t in order}
    for i in range(n):
        for j in range(i + 1, n):
            if draw(st.booleans()):
                down[order[i]].append(order[j])
    weights = {t: draw(st.integers(-(2**40), 2**40)) for t in order}
    return order, down, weights


@settings(max_examples=150, deadline=None)
@given(dags(), st.sampled_from(list(WeightRule)))
def test_priority_totals_equal_a_brute_force_sum(
    graph: tuple[list[str], dict[str, list[str]], dict[str, int]], rule: WeightRule
) -> None:
    """Totals count each distinct descendant (or ancestor) exactly once, any weights."""
    order, down, weights = graph
    up: dict[str, list[str]] = {t: [] for t in order}
    for parent, children in down.items():
        for child in children:
            up[child].append(parent)
    totals = priority_weight_totals(order, up, down, weights, dict.fromkeys(order, rule))
    assert totals == _brute_totals(order, down, weights, rule)
