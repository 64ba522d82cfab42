"""`>>`, `<<`, chain and cross_downstream: how tasks say what runs before what."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing import TypeAlias

    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.edges import EdgeModifier

    Dependable: TypeAlias = "DependencyMixin | Sequence[DependencyMixin]"


class DependencyMixin:
    """Gives operators, task outputs, task groups and edge labels `>>` and `<<`.

    On the left of `>>` an object stands for its `leaves`, on the right for
    its `roots`: both are the object itself for a task, and a group's last
    and first tasks for a TaskGroup.
    """

    #: True for an edge label: it waits for both sides before adding edges.
    defers_edges: ClassVar[bool] = False

    def as_operators(self) -> list[BaseOperator]:
        """The operators this object stands for."""
        raise NotImplementedError

    @property
    def roots(self) -> list[BaseOperator]:
        """The tasks an edge into this object reaches."""
        return self.as_operators()

    @property
    def leaves(self) -> list[BaseOperator]:
        """The tasks an edge out of this object starts from."""
        return self.as_operators()

    def set_downstream(self, other: Dependable, edge_modifier: EdgeModifier | None = None) -> None:
        if isinstance(other, DependencyMixin) and other.defers_edges:
            other.set_upstream(self)
            return
        targets = _roots_of(other)
        leaves = self.leaves
        _note_upstream(other, leaves)
        for mine in leaves:
            for theirs in targets:
                mine.add_edge_to(theirs)
                if edge_modifier is not None:
                    edge_modifier.add_edge_info(mine.dag, mine.task_id, theirs.task_id)

    def set_upstream(self, other: Dependable, edge_modifier: EdgeModifier | None = None) -> None:
        if isinstance(other, DependencyMixin) and other.defers_edges:
            other.set_downstream(self)
            return
        for theirs in _leaves_of(other):
            theirs.set_downstream(self, edge_modifier=edge_modifier)

    def note_upstream(self, leaves: list[BaseOperator]) -> None:
        """Told which tasks were just set upstream of this object (an empty group keeps them)."""

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        """`[a, b] >> self`."""
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        """`[a, b] << self`."""
        self.set_downstream(other)
        return self


def _roots_of(obj: Any) -> list[BaseOperator]:
    if isinstance(obj, DependencyMixin):
        return obj.roots
    return [op for item in _items_of(obj) for op in _roots_of(item)]


def _leaves_of(obj: Any) -> list[BaseOperator]:
    if isinstance(obj, DependencyMixin):
        return obj.leaves
    return [op for item in _items_of(obj) for op in _leaves_of(item)]


def _note_upstream(obj: Any, leaves: list[BaseOperator]) -> None:
    if isinstance(obj, DependencyMixin):
        obj.note_upstream(leaves)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            _note_upstream(item, leaves)


def _items_of(obj: Any) -> list[Any]:
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    raise TypeError(
        f"Cannot set a dependency on {obj!r} ({type(obj).__name__}): "
        "use an operator, a task function's output, a TaskGroup, or a list of them."
    )


def chain(*elements: Any) -> None:
    """Make each element upstream of the next: `chain(a, [b, c], d)`.

    Two adjacent lists must have equal length and are linked pairwise, as in
    Airflow; a single task next to a list fans out or in.
    """
    for left, right in pairwise(elements):
        if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            if len(left) != len(right):
                raise ValueError(
                    f"chain() got adjacent lists of length {len(left)} and {len(right)}; "
                    "they must be equally long (use cross_downstream to link every pair)."
                )
            for up, down in zip(left, right, strict=True):
                _link(up, down)
        else:
            _link(left, right)


def chain_linear(*elements: Any) -> None:
    """Make every task of each element upstream of every task of the next, as Airflow's does.

    `chain_linear(a, [b, c], [d, e], f)`: a >> b, c; each of b, c >> each of d, e; d, e >> f.
    Unlike chain(), adjacent lists are linked every pair with every pair, so they may differ
    in length.
    """
    if len(elements) < 2:
        raise ValueError(
            f"chain_linear() got {len(elements)} element(s), so it set no dependency: pass two "
            "or more tasks or lists (did you forget to unpack a list with `*`?)."
        )
    for left, right in pairwise(elements):
        _link(left, right)


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Sequence[Any] | Any) -> None:
    """Make every task in `from_tasks` upstream of every task in `to_tasks`."""
    for task in from_tasks:
        _link(task, to_tasks)


def _link(up: Any, down: Any) -> None:
    if isinstance(up, DependencyMixin):
        up.set_downstream(down)
    else:
        for item in _items_of(up):
            _link(item, down)
