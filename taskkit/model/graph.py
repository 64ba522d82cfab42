"""Graph algorithms over task ids: topological order, cycle paths and priority totals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from taskkit.states import WeightRule

Edges = Mapping[str, Iterable[str]]


def topological_order(downstream: Edges) -> list[str] | None:
    """Task ids with every task before its downstream tasks, or None if there is a cycle.

    Kahn's algorithm; ties keep the order the mapping lists tasks in, so the
    result is stable for a given DAG definition.
    """
    indegree = dict.fromkeys(downstream, 0)
    for children in downstream.values():
        for child in children:
            indegree[child] += 1
    ready = [t for t, n in indegree.items() if n == 0]
    ready.reverse()
    order: list[str] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in downstream[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order if len(order) == len(indegree) else None


def find_cycle(downstream: Edges) -> list[str] | None:
    """One cycle as a path that starts and ends on the same task id, or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(downstream, white)
    for start in downstream:
        if colour[start] != white:
            continue
        # Iterative DFS: deep chains must not hit the recursion limit.
        stack: list[tuple[str, list[str]]] = [(start, list(downstream[start]))]
        path = [start]
        colour[start] = grey
        while stack:
            node, children = stack[-1]
            if not children:
                colour[node] = black
                stack.pop()
                path.pop()
                continue
            child = children.pop()
            if colour[child] == grey:
                return [*path[path.index(child) :], child]
            if colour[child] == white:
                colour[child] = grey
                path.append(child)
                stack.append((child, list(downstream[child])))
    return None


def priority_weight_totals(
    order: list[str],
    upstream: Edges,
    downstream: Edges,
    weights: Mapping[str, int],
    rules: Mapping[str, WeightRule],
) -> dict[str, int]:
    """Each task's priority_weight_total, with Airflow's semantics, exactly.

    Descendant and ancestor sets are Python-int bitsets built in one pass in
    (reverse) topological order, so each distinct relative counts once. The
    weighted sum over a set is done per bit of the weights: with weights
    offset to be non-negative, sum(w) = offset*|S| + sum_b 2**b * |S & mask_b|,
    which needs a handful of popcounts per task instead of a loop over relatives.
    """
    index = {task_id: i for i, task_id in enumerate(order)}
    offset = min(weights.values(), default=0)
    masks: list[int] = []
    for task_id in order:
        shifted = weights[task_id] - offset
        bit = 1 << index[task_id]
        b = 0
        while shifted:
            if shifted & 1:
                while len(masks) <= b:
                    masks.append(0)
                masks[b] |= bit
            shifted >>= 1
            b += 1

    def weighted_sum(members: int) -> int:
        total = offset * members.bit_count()
        for b, mask in enumerate(masks):
            total += (members & mask).bit_count() << b
        return total

    needs_down = any(r is WeightRule.DOWNSTREAM for r in rules.values())
    needs_up = any(r is WeightRule.UPSTREAM for r in rules.values())
    descendants = _relatives(reversed(order), downstream, index) if needs_down else {}
    ancestors = _relatives(order, upstream, index) if needs_up else {}
    totals: dict[str, int] = {}
    for task_id in order:
        own = weights[task_id]
        rule = rules[task_id]
        if rule is WeightRule.DOWNSTREAM:
            totals[task_id] = own + weighted_sum(descendants[task_id])
        elif rule is WeightRule.UPSTREAM:
            totals[task_id] = own + weighted_sum(ancestors[task_id])
        else:
            totals[task_id] = own
    return totals


def _relatives(
    visit_order: Iterable[str], edges: Edges, index: Mapping[str, int]
) -> dict[str, int]:
    """Bitset of every task reachable through `edges`, visiting each task after its targets."""
    reach: dict[str, int] = {}
    for task_id in visit_order:
        bits = 0
        for other in edges[task_id]:
            bits |= reach[other] | (1 << index[other])
        reach[task_id] = bits
    return reach
