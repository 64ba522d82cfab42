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
PAD = 20


@attrs.frozen
class Node:
    """A task's box."""

    task_id: str
    x: int
    y: int


@attrs.frozen
class Edge:
    """An arrow from one task to another, as an SVG path, with its label's place if any."""

    source: str
    target: str
    path: str
    label: str | None = None
    label_x: int = 0
    label_y: int = 0


@attrs.frozen
class GroupBox:
    """The box drawn behind a task group's tasks."""

    group_id: str
    x: int
    y: int
    width: int
    height: int


@attrs.frozen
class Layout:
    """Every node, edge and group box, and the drawing's size."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int
    groups: tuple[GroupBox, ...] = ()


def layout(
    tasks: Mapping[str, TaskSpec],
    *,
    groups: Mapping[str, str | None] | None = None,
    labels: Mapping[tuple[str, str], str] | None = None,
) -> Layout:
    """Positions for `tasks` (given in topological order), left to right.

    `groups` maps a task to its task group's id (None outside any), `labels`
    an edge (upstream, downstream) to its Label's text.
    """
    groups = groups or {}
    labels = labels or {}
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
            text = labels.get((up, task_id))
            edges.append(Edge(up, task_id, path, text, (x1 + x2) // 2, (y1 + y2) // 2 - 4))
    width = PAD * 2 + (max(depth.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    tallest = max((len(m) for m in layers.values()), default=1)
    height = PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y
    boxes = []
    boxed: dict[str, list[Node]] = {}
    for task_id, group_id in groups.items():
        if group_id and task_id in nodes:
            boxed.setdefault(group_id, []).append(nodes[task_id])
    for group_id, inside in sorted(boxed.items()):
        left = min(n.x for n in inside) - 6
        top = min(n.y for n in inside) - 16
        right = max(n.x for n in inside) + NODE_W + 6
        bottom = max(n.y for n in inside) + NODE_H + 6
        boxes.append(GroupBox(group_id, left, top, right - left, bottom - top))
    return Layout(tuple(nodes.values()), tuple(edges), width, height + 8, tuple(boxes))
