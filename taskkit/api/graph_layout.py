"""Laying out a DAG's graph for the UI: layers by longest path, ordered to limit crossings.

Pure: takes the task specs and returns positions and edge paths; the page
draws them as SVG and colours the nodes with the states of a run.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from taskkit.model.task import TaskSpec

NODE_W = 168
NODE_H = 34
GAP_X = 56
GAP_Y = 14
PAD = 12


@attrs.frozen
class Node:
    """A task's box."""

    task_id: str
    x: int
    y: int


@attrs.frozen
class Edge:
    """An arrow from one task to another, as an SVG path."""

    source: str
    target: str
    path: str


@attrs.frozen
class Layout:
    """Every node and edge, and the drawing's size."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int


def layout(tasks: Mapping[str, TaskSpec]) -> Layout:
    """Positions for `tasks` (given in topological order), left to right."""
    depth: dict[str, int] = {}
    for task_id, spec in tasks.items():
        depth[task_id] = 1 + max((depth[u] for u in spec.upstream if u in depth), default=-1)
    layers: dict[int, list[str]] = {}
    for task_id in tasks:
        layers.setdefault(depth[task_id], []).append(task_id)
    row: dict[str, float] = {}
    for level in sorted(layers):
        members = layers[level]

        def barycentre(task_id: str) -> float:
            ups = [row[u] for u in tasks[task_id].upstream if u in row]
            return sum(ups) / len(ups) if ups else float(len(row))

        members.sort(key=lambda t: (barycentre(t), t))
        for index, task_id in enumerate(members):
            row[task_id] = float(index)
    nodes = {
        t: Node(t, PAD + depth[t] * (NODE_W + GAP_X), PAD + int(row[t]) * (NODE_H + GAP_Y))
        for t in tasks
    }
    edges = []
    for task_id, spec in tasks.items():
        target = nodes[task_id]
        for up in sorted(spec.upstream):
            if up not in nodes:
                continue
            source = nodes[up]
            x1, y1 = source.x + NODE_W, source.y + NODE_H // 2
            x2, y2 = target.x, target.y + NODE_H // 2
            bend = (x2 - x1) // 2
            path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2 - 4},{y2}"
            edges.append(Edge(up, task_id, path))
    width = PAD * 2 + (max(depth.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    tallest = max((len(m) for m in layers.values()), default=1)
    height = PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y
    return Layout(tuple(nodes.values()), tuple(edges), width, height)
