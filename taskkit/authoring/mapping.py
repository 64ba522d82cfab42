"""Dynamic task mapping: `.partial()`, `.expand()`, `.expand_kwargs()`, `XComArg.map()/.zip()`.

A mapped task is one MappedOperator in the DAG. Its TaskSpec carries a
MapSpec saying where the length of each expanded argument comes from, so the
run engine can decide how many instances to create without decoding any
value. Each instance's try rebuilds a plain operator of the mapped class
with the arguments of its map index (`MappedOperator.unmap`), so everything a
plain task does (templates, XCom pushes, branching) works unchanged.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.authoring import registry
from taskkit.authoring.arguments import is_airflow_only_task_arg
from taskkit.authoring.baseoperator import NOTSET, BaseOperator
from taskkit.authoring.decorators import (
    TaskRole,
    XComArg,
    find_xcom_args,
    resolve_xcom_args,
)
from taskkit.errors import DagAssignmentError, InvalidTaskParameterError
from taskkit.model.task import MapLength, MapSpec, TaskSpec

if TYPE_CHECKING:
    from taskkit.authoring.context import Context, XComAccess
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.decorators import TaskFunction


# -- XComArg.map() and XComArg.zip() ----------------------------------------------------


class MapXComArg(XComArg):
    """`arg.map(fn)`: each item of an upstream value passed through `fn` in the consuming try."""

    def __init__(self, source: XComArg, function: Callable[[Any], Any]) -> None:
        super().__init__(source.operator, source.key)
        self.source = source
        self.function = function

    def as_operators(self) -> list[BaseOperator]:
        return self.source.as_operators()

    def resolve(self, xcom: XComAccess) -> Any:
        return [self.function(item) for item in _items(self.source, xcom)]

    def __repr__(self) -> str:
        return f"{self.source!r}.map({getattr(self.function, '__name__', self.function)!r})"


class ZipXComArg(XComArg):
    """`arg.zip(*others)`: tuples of the items at each position, like zip() (or zip_longest)."""

    def __init__(self, sources: Sequence[XComArg], fillvalue: Any = NOTSET) -> None:
        super().__init__(sources[0].operator, sources[0].key)
        self.sources = tuple(sources)
        self.fillvalue = fillvalue

    def as_operators(self) -> list[BaseOperator]:
        return [op for source in self.sources for op in source.as_operators()]

    def resolve(self, xcom: XComAccess) -> Any:
        columns = [_items(source, xcom) for source in self.sources]
        size = _zip_size([len(c) for c in columns], self.fillvalue is not NOTSET)
        return [tuple(c[i] if i < len(c) else self.fillvalue for c in columns) for i in range(size)]

    def __repr__(self) -> str:
        return f"zip{self.sources!r}"


def xcom_map(arg: XComArg, function: Callable[[Any], Any]) -> MapXComArg:
    if not callable(function):
        raise TypeError(f"{arg!r}.map() needs a function, got {function!r}.")
    return MapXComArg(arg, function)


def xcom_zip(arg: XComArg, others: Sequence[Any], fillvalue: Any) -> ZipXComArg:
    for other in others:
        if not isinstance(other, XComArg):
            raise TypeError(
                f"{arg!r}.zip() takes other task outputs (XComArgs), got {other!r} "
                f"({type(other).__name__})."
            )
    return ZipXComArg([arg, *others], fillvalue)


def _zip_size(sizes: Sequence[int], longest: bool) -> int:
    if not sizes:
        return 0
    return max(sizes) if longest else min(sizes)


def _items(value: Any, xcom: XComAccess) -> Sequence[Any]:
    """An expandable value as a sequence, in the try: what its map indexes select from."""
    resolved = value.resolve(xcom) if isinstance(value, XComArg) else value
    if isinstance(resolved, (list, tuple)):
        return resolved
    if isinstance(resolved, Mapping):
        return list(resolved.items())
    raise TypeError(
        f"cannot expand over {value!r}: its value is a {type(resolved).__name__}, "
        "not a list or dict"
    )


def _item(value: Any, xcom: XComAccess, index: int) -> Any:
    """The item `index` of an expandable value (upstream values are pulled here, in the try)."""
    if isinstance(value, MapXComArg):
        return value.function(_item(value.source, xcom, index))
    if isinstance(value, ZipXComArg):
        return tuple(
            _item(s, xcom, index) if index < len(_items(s, xcom)) else value.fillvalue
            for s in value.sources
        )
    return resolve_xcom_args(_items(value, xcom)[index], xcom)


def _length(value: Any) -> MapLength:
    """Where an expandable value's length will come from; checked when the DAG is defined."""
    if isinstance(value, MapXComArg):
        return _length(value.source)
    if isinstance(value, ZipXComArg):
        return MapLength(
            parts=tuple(_length(s) for s in value.sources), longest=value.fillvalue is not NOTSET
        )
    if isinstance(value, XComArg):
        return MapLength(task_id=value.operator.task_id, key=value.key)
    return MapLength(literal=len(value))


def _is_expandable(value: Any) -> bool:
    return isinstance(value, (XComArg, list, tuple, dict))


# -- what is expanded --------------------------------------------------------------------


class _Expansion:
    """The arguments a mapped task expands over, and how a map index selects from them."""

    def map_spec(self) -> MapSpec:
        raise NotImplementedError

    def upstream(self) -> list[XComArg]:
        raise NotImplementedError

    def values_at(self, xcom: XComAccess, index: int) -> dict[str, Any]:
        raise NotImplementedError


class _Product(_Expansion):
    """`.expand(a=[...], b=[...])`: one instance per combination, the last argument fastest."""

    def __init__(self, mapped: Mapping[str, Any]) -> None:
        self.mapped = dict(mapped)

    def map_spec(self) -> MapSpec:
        return MapSpec(tuple(_length(v) for v in self.mapped.values()))

    def upstream(self) -> list[XComArg]:
        return find_xcom_args(list(self.mapped.values()))

    def values_at(self, xcom: XComAccess, index: int) -> dict[str, Any]:
        if len(self.mapped) == 1:  # the common case: no product to decompose
            ((name, value),) = self.mapped.items()
            return {name: _item(value, xcom, index)}
        positions: dict[str, int] = {}
        for name, value in reversed(self.mapped.items()):
            size = _size(value, xcom)
            positions[name] = index % size
            index //= size
        return {name: _item(value, xcom, positions[name]) for name, value in self.mapped.items()}


def _size(value: Any, xcom: XComAccess) -> int:
    if isinstance(value, MapXComArg):
        return _size(value.source, xcom)
    if isinstance(value, ZipXComArg):
        sizes = [_size(s, xcom) for s in value.sources]
        return _zip_size(sizes, value.fillvalue is not NOTSET)
    return len(_items(value, xcom))


class _Kwargs(_Expansion):
    """`.expand_kwargs([{...}, {...}])`: one instance per dict of arguments."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def map_spec(self) -> MapSpec:
        return MapSpec((_length(self.value),))

    def upstream(self) -> list[XComArg]:
        return find_xcom_args(self.value)

    def values_at(self, xcom: XComAccess, index: int) -> dict[str, Any]:
        item = _item(self.value, xcom, index)
        if not isinstance(item, Mapping) or not all(isinstance(k, str) for k in item):
            raise TypeError(
                f"expand_kwargs needs a list of dicts of arguments; item {index} is "
                f"{item!r} ({type(item).__name__})"
            )
        return dict(item)


# -- the mapped operator ---------------------------------------------------------------


@functools.cache
def _base_parameters() -> frozenset[str]:
    """The parameters every task has (BaseOperator's); they cannot be mapped."""
    parameters = inspect.signature(BaseOperator.__init__).parameters.values()
    return frozenset(
        p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ) - {"self"}


def _accepted(callable_: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """The keyword parameters a callable names, and whether it takes **kwargs as well."""
    try:
        parameters = inspect.signature(callable_).parameters.values()
    except (TypeError, ValueError):
        return frozenset(), True
    names = frozenset(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def _class_parameters(operator_class: type[BaseOperator]) -> frozenset[str]:
    """Every keyword an operator class's constructors name, along its MRO."""
    names: set[str] = set()
    for klass in operator_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= _accepted(init)[0]
    return frozenset(names) - {"self"}


class _Detached:
    """Stands in for the DAG while an instance's operator is built, so it is not added to it.

    Everything but adding tasks is the real DAG's.
    """

    def __init__(self, dag: DAG) -> None:
        self._dag = dag

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dag, name)

    def add_task(self, task: BaseOperator) -> None:
        """An instance's operator is not a task of the DAG: the mapped operator is."""

    def invalidate(self) -> None:
        """Nothing cached to forget."""


def _check_expansion(
    expansion: _Expansion, base_kwargs: Mapping[str, Any], upstream: Sequence[XComArg]
) -> None:
    """Refuse what can never be expanded over, naming the DAG, the task and the fix."""
    dag = base_kwargs.get("dag") or registry.current_dag()
    where = f"DAG {getattr(dag, 'dag_id', None)!r}, task {base_kwargs.get('task_id')!r}"
    if isinstance(expansion, _Product):
        for value in expansion.mapped.values():
            if not _is_expandable(value):
                raise InvalidTaskParameterError(
                    f"{where}: cannot expand over {value!r} ({type(value).__name__}): pass a "
                    "list, a dict or an upstream task's output (XComArg)."
                )
    elif isinstance(expansion, _Kwargs) and not isinstance(expansion.value, (XComArg, list)):
        raise InvalidTaskParameterError(
            f"{where}: expand_kwargs() takes a list of dicts or an upstream task's output, "
            f"got {expansion.value!r} ({type(expansion.value).__name__})."
        )
    for xcom_arg in upstream:
        for operator in xcom_arg.as_operators():
            if dag is not None and operator.dag is not dag:
                raise DagAssignmentError(
                    f"{where}: cannot expand over the output of {operator.task_id!r} of DAG "
                    f"{operator.dag.dag_id!r}: tasks in different DAGs cannot depend on each "
                    "other. Move both tasks into one DAG."
                )


#: Per process: the operator each `@task` mapped task's instances are copied from.
_PROTOTYPES: weakref.WeakKeyDictionary[MappedOperator, BaseOperator] = weakref.WeakKeyDictionary()


class MappedOperator(BaseOperator):
    """A task whose instances are created when it is ready, one per item expanded over.

    `base_kwargs` are the BaseOperator parameters (pool, retries…) shared by
    every instance; `operator_kwargs` the other partial arguments. For a
    `@task` function (`function` set), both the partial and the expanded
    arguments are the function's, passed as op_kwargs.
    """

    def __init__(
        self,
        *,
        operator_class: type[BaseOperator],
        base_kwargs: Mapping[str, Any],
        operator_kwargs: Mapping[str, Any],
        expansion: _Expansion,
        function: Callable[..., Any] | None = None,
        partial_args: Sequence[Any] = (),
    ) -> None:
        upstream = expansion.upstream()
        upstream += find_xcom_args(list(operator_kwargs.values()))
        upstream += find_xcom_args(list(partial_args))
        # Checked before the task joins its DAG, so a refused expansion leaves the DAG as it was.
        _check_expansion(expansion, base_kwargs, upstream)
        super().__init__(**base_kwargs)
        self.operator_class = operator_class
        self.base_kwargs = {k: v for k, v in base_kwargs.items() if k != "dag"}
        self.operator_kwargs = dict(operator_kwargs)
        self.expansion = expansion
        self.function = function
        self.partial_args = tuple(partial_args)
        for xcom_arg in upstream:
            for operator in xcom_arg.as_operators():
                operator.add_edge_to(self)

    def execute(self, context: Context) -> Any:
        raise InvalidTaskParameterError(
            f"Mapped task {self.task_id!r} runs as its instances, never as itself: run it "
            "through DAG.test() or the scheduler."
        )

    def to_spec(self, priority_weight_total: int) -> TaskSpec:
        spec = super().to_spec(priority_weight_total)
        return attrs.evolve(spec, map_spec=self.expansion.map_spec())

    def unmap(self, xcom: XComAccess, map_index: int) -> BaseOperator:
        """The plain operator of instance `map_index` (upstream values are pulled here).

        A classic operator is constructed with the instance's arguments, so
        its own checks run on them. A `@task` function's instances differ
        only in op_kwargs: they are copies of one operator built (and checked)
        once per process, which keeps a large expand as cheap as plain tasks.
        """
        values = self.expansion.values_at(xcom, map_index)
        if self.function is not None:
            prototype = _PROTOTYPES.get(self)
            if prototype is None:
                prototype = _PROTOTYPES[self] = self._build(
                    python_callable=self.function,
                    op_args=self.partial_args,
                    op_kwargs=self.operator_kwargs,
                    has_xcom_args=bool(find_xcom_args([self.partial_args, self.operator_kwargs])),
                )
            operator = object.__new__(type(prototype))  # a shallow copy, without copy's detours
            operator.__dict__.update(prototype.__dict__)
            operator.op_kwargs = {**self.operator_kwargs, **values}  # type: ignore[attr-defined]
            return operator
        return self._build(**resolve_xcom_args(self.operator_kwargs, xcom), **values)

    def _build(self, **arguments: Any) -> BaseOperator:
        """An operator of the mapped class for this task, not added to the DAG."""
        kwargs: dict[str, Any] = {**self.base_kwargs, **arguments}
        kwargs["dag"] = _Detached(self.dag)
        kwargs["task_group"] = self.task_group
        operator = self.operator_class(**kwargs)
        operator.dag = self.dag
        operator.upstream_task_ids = self.upstream_task_ids
        operator.downstream_task_ids = self.downstream_task_ids
        operator.is_setup = self.is_setup
        operator.is_teardown = self.is_teardown
        operator.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        operator.trigger_rule = self.trigger_rule
        return operator

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_class.__name__}) {self.dag.dag_id}.{self.task_id}>"


def _split(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Partial arguments split into BaseOperator parameters and the operator's own."""
    base = _base_parameters()
    return (
        {k: v for k, v in kwargs.items() if k in base},
        {k: v for k, v in kwargs.items() if k not in base},
    )


class OperatorPartial:
    """What `SomeOperator.partial(...)` returns: `.expand(...)` or `.expand_kwargs(...)` it."""

    def __init__(self, operator_class: type[BaseOperator], kwargs: Mapping[str, Any]) -> None:
        if "task_id" not in kwargs:
            raise InvalidTaskParameterError(
                f"{operator_class.__name__}.partial() needs task_id=: name the mapped task."
            )
        self.operator_class = operator_class
        self.kwargs = dict(kwargs)
        unknown = sorted(
            name
            for name in set(self.kwargs) - _class_parameters(operator_class)
            if not is_airflow_only_task_arg(name)
        )
        if unknown:
            raise InvalidTaskParameterError(
                f"task {self.kwargs['task_id']!r}: {operator_class.__name__} has no parameter "
                f"{', '.join(map(repr, unknown))}; check the spelling of its partial() arguments."
            )

    def expand(self, **mapped: Any) -> MappedOperator:
        """One task instance per item (per combination, with several arguments)."""
        self._check_mapped(mapped)
        return self._build(_Product(mapped))

    def expand_kwargs(self, value: Any) -> MappedOperator:
        """One task instance per dict of arguments in `value` (a list or an XComArg)."""
        return self._build(_Kwargs(value))

    def _check_mapped(self, mapped: Mapping[str, Any]) -> None:
        task_id = self.kwargs["task_id"]
        if not mapped:
            raise InvalidTaskParameterError(
                f"task {task_id!r}: expand() needs at least one argument to expand over."
            )
        fixed = sorted(set(mapped) & _base_parameters())
        if fixed:
            raise InvalidTaskParameterError(
                f"task {task_id!r}: {', '.join(map(repr, fixed))} cannot be mapped; pass it "
                "to partial() instead."
            )
        unknown = sorted(set(mapped) - _class_parameters(self.operator_class))
        if unknown:
            raise InvalidTaskParameterError(
                f"task {task_id!r}: {self.operator_class.__name__} has no parameter "
                f"{', '.join(map(repr, unknown))} to expand over."
            )
        _check_not_both(task_id, mapped, self.kwargs)

    def _build(self, expansion: _Expansion) -> MappedOperator:
        base, own = _split(self.kwargs)
        return MappedOperator(
            operator_class=self.operator_class,
            base_kwargs=base,
            operator_kwargs=own,
            expansion=expansion,
        )


class TaskFunctionPartial:
    """What `task_function.partial(...)` returns: its fixed arguments, to `.expand()` with."""

    def __init__(self, task_function: TaskFunction, args: Sequence[Any], kwargs: Any) -> None:
        self.task_function = task_function
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    def expand(self, **mapped: Any) -> XComArg:
        """One task instance per item (per combination, with several arguments)."""
        function = self.task_function.function
        names, takes_kwargs = _accepted(function)
        name = getattr(function, "__name__", "task")
        if not mapped:
            raise InvalidTaskParameterError(
                f"task {name!r}: expand() needs at least one argument to expand over."
            )
        unknown = sorted(set(mapped) - names) if not takes_kwargs else []
        if unknown:
            raise InvalidTaskParameterError(
                f"task {name!r}: the function takes no argument "
                f"{', '.join(map(repr, unknown))} to expand over."
            )
        _check_not_both(name, mapped, self.kwargs)
        return self._build(_Product(mapped))

    def expand_kwargs(self, value: Any) -> XComArg:
        """One task instance per dict of arguments in `value` (a list or an XComArg)."""
        return self._build(_Kwargs(value))

    def _build(self, expansion: _Expansion) -> XComArg:
        tf = self.task_function
        dag, options = tf.dag_and_options("expanded")
        base, own = _split(options)
        base["task_id"] = dag.unique_task_id(tf.task_kwargs.get("task_id") or tf.function.__name__)
        base["dag"] = dag
        operator = MappedOperator(
            operator_class=tf.operator_class,
            base_kwargs=base,
            operator_kwargs=self.kwargs,
            expansion=expansion,
            function=tf.function,
            partial_args=self.args,
        )
        # Options of the decorated operator itself (not BaseOperator's) go with every instance.
        operator.base_kwargs.update(own)
        if tf.role is TaskRole.SETUP:
            operator.as_setup()
        elif tf.role is TaskRole.TEARDOWN:
            operator.as_teardown(on_failure_fail_dagrun=tf.on_failure_fail_dagrun)
        return XComArg(operator)


def _check_not_both(task_id: str, mapped: Mapping[str, Any], fixed: Mapping[str, Any]) -> None:
    """An argument is either fixed by partial() or expanded over, never both."""
    both = sorted(set(mapped) & set(fixed))
    if both:
        raise InvalidTaskParameterError(
            f"task {task_id!r}: {', '.join(map(repr, both))} given to both partial() and "
            "expand(); give it to one of them."
        )
