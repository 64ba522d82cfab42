"""TaskGroup and `@task_group`: named, nestable sets of tasks that wire as one node.

A group prefixes its tasks' ids (`group.task`), lends them its
`default_args`, and in `start >> group >> end` stands for its roots (tasks
with no upstream inside the group) on the right of `>>` and its leaves on
the left, as in Airflow. Groups are for reading a DAG: the run engine only
ever sees the tasks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, overload

from taskkit.authoring import registry
from taskkit.authoring.arguments import check_default_args, renamed_default_args
from taskkit.authoring.dependencies import DependencyMixin
from taskkit.errors import DagAssignmentError, DagDefinitionError

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.mapped_group import TaskGroupPartial

_GROUP_ID = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")


class TaskGroup(DependencyMixin):
    """A set of tasks shown and wired together: `with TaskGroup("extract") as g: ...`.

    `prefix_group_id=False` keeps the tasks' own ids; `default_args` are
    merged over the DAG's (and the parent group's); `add_suffix_on_collision`
    names a second group `g__1` instead of failing (what `@task_group` does).
    """

    def __init__(
        self,
        group_id: str,
        *,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: Mapping[str, Any] | None = None,
        tooltip: str = "",
        doc_md: str | None = None,
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        group_display_name: str = "",
        add_suffix_on_collision: bool = False,
    ) -> None:
        if dag is None:
            dag = parent_group.dag if parent_group is not None else registry.current_dag()
        if dag is None:
            raise DagAssignmentError(
                f"TaskGroup {group_id!r} was created outside a DAG: create it inside "
                "`with DAG(...)` or a @dag function, or pass dag=."
            )
        if not isinstance(group_id, str) or not _GROUP_ID.match(group_id):
            raise DagDefinitionError(
                f"DAG {dag.dag_id!r}: group_id {group_id!r} is not valid; use 1-200 letters, "
                "digits, '_' or '-' (no '.': it separates a group's id from its tasks')."
            )
        for name, text in (("tooltip", tooltip), ("group_display_name", group_display_name)):
            if not isinstance(text, str):
                raise DagDefinitionError(
                    f"DAG {dag.dag_id!r}, group {group_id!r}: {name} must be a string."
                )
        self.dag: DAG = dag
        self.parent_group: TaskGroup | None = (
            parent_group or registry.current_group(dag) or dag.task_group
        )
        self.prefix_group_id = bool(prefix_group_id)
        self.tooltip = tooltip
        self.doc_md = doc_md
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.group_display_name = group_display_name
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        own_defaults = renamed_default_args(dag.dag_id, default_args)
        dag.warnings.extend(
            w for w in check_default_args(dag.dag_id, own_defaults) if w not in dag.warnings
        )
        self._default_args = {**self.parent_group.effective_default_args(), **own_defaults}
        #: Set by `@task_group`: the function and arguments that built the group, so a
        #: mapped group (`.expand`) can be built again per map index.
        self.function: Callable[..., Any] | None = None
        self.call_args: tuple[Any, ...] = ()
        self.call_kwargs: dict[str, Any] = {}
        #: Set by a mapped task group (`.expand`): what its tasks are expanded over.
        self.expansion: Any = None
        #: Tasks set upstream of this group; they stand for its leaves while it is empty.
        self._upstream_of_empty: list[BaseOperator] = []
        self._local_id: str | None = group_id
        if add_suffix_on_collision:
            self._local_id = self._free_local_id(group_id)
        dag.add_group(self)
        self.parent_group.add(self)

    @classmethod
    def create_root(cls, dag: DAG) -> TaskGroup:
        """The id-less group every DAG has; top-level tasks are its children."""
        root = cls.__new__(cls)
        root.dag = dag
        root.parent_group = None
        root.prefix_group_id = True
        root.tooltip = root.group_display_name = ""
        root.doc_md = None
        root.ui_color, root.ui_fgcolor = "CornflowerBlue", "#000"
        root.children = {}
        root._default_args = {}
        root.function, root.call_args, root.call_kwargs = None, (), {}
        root.expansion = None
        root._upstream_of_empty = []
        root._local_id = None
        return root

    # -- identity ------------------------------------------------------------

    @property
    def group_id(self) -> str | None:
        """The full id (`outer.inner` when the parent prefixes); None for a DAG's root group."""
        if self._local_id is None or self.parent_group is None:
            return self._local_id
        return self.parent_group.child_id(self._local_id)

    @property
    def is_root(self) -> bool:
        return self._local_id is None

    @property
    def label(self) -> str | None:
        """What a graph shows: the display name, else the id without its parents'."""
        return self.group_display_name or self._local_id

    def child_id(self, local_id: str) -> str:
        """The id a task or group named `local_id` gets inside this group."""
        group_id = self.group_id
        return f"{group_id}.{local_id}" if self.prefix_group_id and group_id else local_id

    def closest_mapped(self) -> TaskGroup | None:
        """This group if it is mapped, else the nearest enclosing mapped group, if any."""
        group: TaskGroup | None = self
        while group is not None and group.expansion is None:
            group = group.parent_group
        return group

    def effective_default_args(self) -> dict[str, Any]:
        """The DAG's default_args with every enclosing group's merged over them."""
        if self.is_root:
            return self.dag.default_args
        return {**self.dag.default_args, **self._default_args}

    def _free_local_id(self, base: str) -> str:
        assert self.parent_group is not None
        taken = self.dag.node_ids()
        if self.parent_group.child_id(base) not in taken:
            return base
        stem = re.sub(r"__\d+$", "", base)
        n = 1
        while self.parent_group.child_id(f"{stem}__{n}") in taken:
            n += 1
        return f"{stem}__{n}"

    # -- building ------------------------------------------------------------

    def __enter__(self) -> TaskGroup:
        registry.push_group(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        registry.pop_group(self)

    def add(self, node: BaseOperator | TaskGroup) -> None:
        """Record a task or group as a child (done by their constructors)."""
        key = node.group_id if isinstance(node, TaskGroup) else node.task_id
        assert key is not None
        self.children[key] = node

    # -- graph ---------------------------------------------------------------

    def __iter__(self) -> Iterator[BaseOperator]:
        """Every task in the group, nested groups included."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child
            else:
                yield child

    def has_task(self, task: BaseOperator) -> bool:
        return any(t is task for t in self)

    def get_roots(self) -> list[BaseOperator]:
        """Tasks with no upstream task inside the group."""
        tasks = list(self)
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if t.upstream_task_ids.isdisjoint(ids)]

    def get_leaves(self) -> list[BaseOperator]:
        """Tasks with no downstream task inside the group."""
        tasks = list(self)
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if t.downstream_task_ids.isdisjoint(ids)]

    @property
    def roots(self) -> list[BaseOperator]:
        return self.get_roots()

    @property
    def leaves(self) -> list[BaseOperator]:
        """The group's last tasks; for an empty group, what was set upstream of it.

        So `start >> group >> end` still orders start before end when a loop
        added nothing to the group, as in Airflow.
        """
        return self.get_leaves() or list(self._upstream_of_empty)

    def note_upstream(self, leaves: list[BaseOperator]) -> None:
        if not self.children:
            self._upstream_of_empty.extend(t for t in leaves if t not in self._upstream_of_empty)

    def as_operators(self) -> list[BaseOperator]:
        return list(self)

    def __repr__(self) -> str:
        return f"<TaskGroup {self.dag.dag_id}.{self.group_id or '(root)'}>"


class TaskGroupFunction:
    """What `@task_group` returns: each call builds a new group from the function body.

    The call returns what the function returns (so `start >> g() >> end`
    binds to the task it returned), else the group itself.
    """

    def __init__(self, function: Callable[..., Any], group_kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.group_kwargs = dict(group_kwargs)
        self.group_kwargs.setdefault("group_id", function.__name__)
        functools.update_wrapper(self, function)

    def override(self, **group_kwargs: Any) -> TaskGroupFunction:
        """The same function with other TaskGroup settings (group_id, tooltip…)."""
        return TaskGroupFunction(self.function, {**self.group_kwargs, **group_kwargs})

    def partial(self, **kwargs: Any) -> TaskGroupPartial:
        """The arguments every instance of a mapped group shares; then `.expand(...)` it."""
        # mapped_group imports this module: imported when a group is mapped.
        from taskkit.authoring.mapped_group import TaskGroupPartial

        return TaskGroupPartial(self, kwargs)

    def expand(self, **mapped: Any) -> Any:
        """A mapped task group: its tasks run once per item (per combination) of `mapped`."""
        return self.partial().expand(**mapped)

    def expand_kwargs(self, value: Any) -> Any:
        """A mapped task group: its tasks run once per dict of arguments in `value`."""
        return self.partial().expand_kwargs(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        group, value = self.build(TaskGroup, args, kwargs)
        return value if value is not None else group

    def build(
        self,
        group_class: Callable[..., TaskGroup],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> tuple[TaskGroup, Any]:
        """Create the group with `group_class`, run the body inside it; the group and its value.

        The hook for mapped groups: `.expand()` calls this with its own group class.
        """
        options = {"add_suffix_on_collision": True, **self.group_kwargs}
        doc = (self.function.__doc__ or "").strip()
        if doc:
            options.setdefault("tooltip", doc)
            options.setdefault("doc_md", doc)
        with group_class(**options) as group:
            group.function = self.function
            group.call_args = tuple(args)
            group.call_kwargs = dict(kwargs)
            value = self.function(*args, **kwargs)
        return group, value


@overload
def task_group(python_callable: Callable[..., Any], /) -> TaskGroupFunction: ...
@overload
def task_group(
    python_callable: None = None, /, **group_kwargs: Any
) -> Callable[[Callable[..., Any]], TaskGroupFunction]: ...
def task_group(
    python_callable: Callable[..., Any] | None = None, /, **group_kwargs: Any
) -> TaskGroupFunction | Callable[[Callable[..., Any]], TaskGroupFunction]:
    """Make a function build a TaskGroup: `@task_group` or `@task_group(group_id=..., ...)`."""
    if python_callable is not None:
        return TaskGroupFunction(python_callable, group_kwargs)

    def decorate(function: Callable[..., Any]) -> TaskGroupFunction:
        return TaskGroupFunction(function, group_kwargs)

    return decorate
