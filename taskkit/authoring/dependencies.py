"""`>>`, `<<`, chain and cross_downstream: how tasks say what runs before what."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeAlias

    from taskkit.authoring.baseoperator import BaseOperator

    Dependable: TypeAlias = "DependencyMixin | Sequence[DependencyMixin]"


class DependencyMixin:
    """Gives operators and task outputs the `>>` and `<<` operators."""

    def as_operators(self) -> list[BaseOperator]:
        """The operators this object stands for."""
        raise NotImplementedError

    def set_downstream(self, other: Dependable) -> None:
        for mine in self.as_operators():
            for theirs in _operators_of(other):
                mine.add_edge_to(theirs)

    def set_upstream(self, other: Dependable) -> None:
        for theirs in _operators_of(other):
            for mine in self.as_operators():
                theirs.add_edge_to(mine)

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


def _operators_of(obj: Any) -> list[BaseOperator]:
    if isinstance(obj, DependencyMixin):
        return obj.as_operators()
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [op for item in obj for op in _operators_of(item)]
    raise TypeError(
        f"Cannot set a dependency on {obj!r} ({type(obj).__name__}): "
        "use an operator, a task function's output, or a list of them."
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


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Sequence[Any] | Any) -> None:
    """Make every task in `from_tasks` upstream of every task in `to_tasks`."""
    for task in from_tasks:
        _link(task, to_tasks)


def _link(up: Any, down: Any) -> None:
    for up_op in _operators_of(up):
        for down_op in _operators_of(down):
            up_op.add_edge_to(down_op)
