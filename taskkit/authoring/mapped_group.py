"""Mapped task groups: `@task_group` functions with `.partial()`, `.expand()`, `.expand_kwargs()`.

The group's body is built once, with each expanded argument standing in as a
MappedArgument. Every task of the group becomes mapped with the group's
length (its TaskSpec carries the group's MapSpec and `mapped_group`), and
the run engine pairs instances by map index: instance i of a task in the
group waits for, and pulls, instance i of the group's tasks upstream of it.
A task outside the group that consumes one inside it gets all instances'
values, in map-index order.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from taskkit.authoring.decorators import XComArg
from taskkit.authoring.mapping import MappedOperator, _check_not_both, _Expansion, _Kwargs, _Product
from taskkit.authoring.taskgroup import TaskGroup
from taskkit.errors import InvalidTaskParameterError

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.context import XComAccess
    from taskkit.authoring.taskgroup import TaskGroupFunction


class MappedArgument(XComArg):
    """An expanded argument of a mapped task group, as its tasks receive it.

    Resolved in a try to the item at that instance's map index. It has no
    task of its own: its edges come from what the group expands over.
    """

    def __init__(self, group: MappedTaskGroup, name: str) -> None:
        self.operator = None  # type: ignore[assignment]  # no task pushes it
        self.key = name
        self.group = group
        self.name = name

    def as_operators(self) -> list[BaseOperator]:
        assert self.group.expansion is not None
        return [op for arg in self.group.expansion.upstream() for op in arg.as_operators()]

    def resolve(self, xcom: XComAccess) -> Any:
        assert self.group.expansion is not None
        values = self.group.expansion.values_at(xcom, xcom.map_index)
        if self.name not in values:
            raise TypeError(
                f"mapped task group {self.group.group_id!r}: expand_kwargs item "
                f"{xcom.map_index} has no argument {self.name!r}; give every dict that key"
            )
        return values[self.name]

    def __getitem__(self, key: str) -> XComArg:
        raise InvalidTaskParameterError(
            f"mapped task group {self.group.group_id!r}: argument {self.name!r} is a value, "
            "not a task's output; index it inside a task."
        )

    def __repr__(self) -> str:
        return f"MappedArgument({self.group.group_id!r}, {self.name!r})"


class MappedTaskGroup(TaskGroup):
    """A TaskGroup whose tasks run once per item of what it expands over."""

    def __init__(self, group_id: str, *, expansion: _Expansion, **kwargs: Any) -> None:
        super().__init__(group_id, **kwargs)
        self.expansion = expansion

    def finish(self) -> None:
        """Check the built group and wire what it expands over before its first tasks."""
        outer = self.parent_group.closest_mapped() if self.parent_group is not None else None
        if outer is not None:
            raise InvalidTaskParameterError(
                f"DAG {self.dag.dag_id!r}: mapped task group {self.group_id!r} is inside mapped "
                f"task group {outer.group_id!r}; taskkit maps one level: expand the outer one only."
            )
        tasks = list(self)
        for task in tasks:
            if isinstance(task, MappedOperator):
                raise InvalidTaskParameterError(
                    f"DAG {self.dag.dag_id!r}: task {task.task_id!r} is expanded inside mapped "
                    f"task group {self.group_id!r}; taskkit maps one level: call it plainly, "
                    "the group maps it."
                )
        assert self.expansion is not None
        sources = [op for arg in self.expansion.upstream() for op in arg.as_operators()]
        for root in self.get_roots():
            for source in sources:
                if source.task_id not in root.upstream_task_ids:
                    source.add_edge_to(root)


class TaskGroupPartial:
    """What `task_group_function.partial(...)` returns: `.expand()` or `.expand_kwargs()` it."""

    def __init__(self, function: TaskGroupFunction, kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.kwargs = dict(kwargs)

    def expand(self, **mapped: Any) -> Any:
        """One instance of every task in the group per item (per combination) of `mapped`."""
        name = self.function.group_kwargs["group_id"]
        if not mapped:
            raise InvalidTaskParameterError(
                f"task group {name!r}: expand() needs at least one argument to expand over."
            )
        names, takes_kwargs = _parameters(self.function.function)
        unknown = sorted(set(mapped) - names) if not takes_kwargs else []
        if unknown:
            raise InvalidTaskParameterError(
                f"task group {name!r}: the function takes no argument "
                f"{', '.join(map(repr, unknown))} to expand over."
            )
        _check_not_both(name, mapped, self.kwargs)
        expansion = _Product(mapped)
        _check_expandable(name, expansion)
        return self._build(expansion, list(mapped))

    def expand_kwargs(self, value: Any) -> Any:
        """One instance of every task in the group per dict of arguments in `value`."""
        name = self.function.group_kwargs["group_id"]
        if not isinstance(value, (XComArg, list)):
            raise InvalidTaskParameterError(
                f"task group {name!r}: expand_kwargs() takes a list of dicts or an upstream "
                f"task's output, got {value!r} ({type(value).__name__})."
            )
        names, _ = _parameters(self.function.function)
        return self._build(_Kwargs(value), sorted(names - set(self.kwargs)))

    def _build(self, expansion: _Expansion, mapped_names: list[str]) -> Any:
        # The arguments stand for the group, which exists only once build() creates it:
        # filled in then, before the body is called with them.
        arguments: dict[str, Any] = dict(self.kwargs)

        def make(**options: Any) -> MappedTaskGroup:
            group = MappedTaskGroup(expansion=expansion, **options)
            arguments.update({n: MappedArgument(group, n) for n in mapped_names})
            return group

        group, value = self.function.build(make, (), arguments)
        assert isinstance(group, MappedTaskGroup)
        group.finish()
        return value if value is not None else group


def _parameters(function: Any) -> tuple[frozenset[str], bool]:
    parameters = inspect.signature(function).parameters.values()
    names = frozenset(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def _check_expandable(name: str, expansion: _Product) -> None:
    for value in expansion.mapped.values():
        if not isinstance(value, (XComArg, list, tuple, dict)) or isinstance(value, MappedArgument):
            raise InvalidTaskParameterError(
                f"task group {name!r}: cannot expand over {value!r} ({type(value).__name__}): "
                "pass a list, a dict or an upstream task's output (XComArg)."
            )
