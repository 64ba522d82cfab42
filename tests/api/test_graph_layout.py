"""The graph's layout: tasks left to right by dependency, no two boxes on top of each other."""

from __future__ import annotations

from taskkit.api.graph_layout import NODE_H, NODE_W, layout
from taskkit.model.task import TaskSpec


def spec(task_id: str, *upstream: str) -> TaskSpec:
    """A task with these upstream tasks."""
    return TaskSpec(task_id, upstream=frozenset(upstream))


def test_downstream_tasks_sit_to_the_right_and_boxes_never_overlap() -> None:
    """Every edge points right, and no two task boxes overlap."""
    tasks = {
        "a": spec("a"),
        "b": spec("b", "a"),
        "c": spec("c", "a"),
        "d": spec("d", "b", "c"),
        "e": spec("e"),
    }
    drawn = layout(tasks)
    at = {n.task_id: n for n in drawn.nodes}
    for task_id, task in tasks.items():
        for up in task.upstream:
            assert at[up].x + NODE_W < at[task_id].x
    boxes = list(drawn.nodes)
    for i, one in enumerate(boxes):
        for other in boxes[i + 1 :]:
            apart = (
                one.x + NODE_W <= other.x
                or other.x + NODE_W <= one.x
                or one.y + NODE_H <= other.y
                or other.y + NODE_H <= one.y
            )
            assert apart, (one, other)
    assert all(n.x + NODE_W <= drawn.width and n.y + NODE_H <= drawn.height for n in boxes)


def test_groups_are_boxed_and_labels_placed_on_their_edges() -> None:
    """A group's box holds its tasks; a labelled edge carries its text."""
    tasks = {"s": spec("s"), "g.x": spec("g.x", "s"), "g.y": spec("g.y", "g.x")}
    drawn = layout(tasks, groups={"g.x": "g", "g.y": "g"}, labels={("s", "g.x"): "go"})
    (box,) = drawn.groups
    for node in drawn.nodes:
        inside = box.x <= node.x and node.x + NODE_W <= box.x + box.width
        assert inside == node.task_id.startswith("g.")
    assert [e.label for e in drawn.edges if e.label] == ["go"]
