"""Edge labels: `a >> Label("on error") >> b` names the edge for whoever draws the DAG.

A label never changes what runs; the DAG keeps it in `dag.edge_info` for
display. Because `a >> Label(...)` is evaluated before the right-hand side
is known, the label holds each side until both are there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from taskkit.authoring.dependencies import DependencyMixin

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.dependencies import Dependable


@attrs.frozen
class EdgeInfo:
    """What the DAG knows about one edge beyond its existence."""

    label: str | None = None


class EdgeModifier(DependencyMixin):
    """Information attached to the edges it sits between (see `Label`)."""

    defers_edges: ClassVar[bool] = True

    def __init__(self, label: str | None = None) -> None:
        if label is not None and not isinstance(label, str):
            raise TypeError(f"Label() takes a string, got {label!r}.")
        self.label = label
        self._upstream: list[Any] = []
        self._downstream: list[Any] = []

    def as_operators(self) -> list[BaseOperator]:
        raise TypeError(
            f"Label({self.label!r}) must sit between two tasks: `a >> Label(...) >> b`."
        )

    def set_upstream(self, other: Dependable, edge_modifier: EdgeModifier | None = None) -> None:
        self._upstream.append(other)
        for downstream in self._downstream:
            _set_downstream(other, downstream, self)

    def set_downstream(self, other: Dependable, edge_modifier: EdgeModifier | None = None) -> None:
        self._downstream.append(other)
        for upstream in self._upstream:
            _set_downstream(upstream, other, self)

    def add_edge_info(self, dag: DAG, upstream_id: str, downstream_id: str) -> None:
        dag.set_edge_info(upstream_id, downstream_id, EdgeInfo(label=self.label))

    def __repr__(self) -> str:
        return f"Label({self.label!r})"


def _set_downstream(upstream: Any, downstream: Any, modifier: EdgeModifier) -> None:
    if isinstance(upstream, DependencyMixin):
        upstream.set_downstream(downstream, edge_modifier=modifier)
        return
    if not isinstance(upstream, (list, tuple, set, frozenset)):
        raise TypeError(
            f"Cannot label an edge from {upstream!r}: use a task, a TaskGroup or a list of them."
        )
    for item in upstream:
        _set_downstream(item, downstream, modifier)


def Label(label: str) -> EdgeModifier:
    """An edge label: `extract >> Label("rows found") >> load`."""
    return EdgeModifier(label)
