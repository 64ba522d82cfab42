"""`@task`: Python functions as tasks, whose outputs wire themselves into the graph."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, overload

from taskkit.authoring import registry
from taskkit.authoring.dependencies import DependencyMixin
from taskkit.authoring.operators import PythonOperator
from taskkit.errors import DagAssignmentError

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.context import Context, XComAccess


class XComArg(DependencyMixin):
    """A task's future output: pass it to another task to send the value and add the edge."""

    def __init__(self, operator: BaseOperator, key: str = "return_value") -> None:
        self.operator = operator
        self.key = key

    def as_operators(self) -> list[BaseOperator]:
        return [self.operator]

    def resolve(self, xcom: XComAccess) -> Any:
        return xcom.pull(self.operator.task_id, self.key)

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"


def find_xcom_args(value: Any) -> list[XComArg]:
    """Every XComArg inside `value`, looking into lists, tuples, sets and dicts."""
    if isinstance(value, XComArg):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [x for item in value for x in find_xcom_args(item)]
    if isinstance(value, dict):
        return [x for item in value.values() for x in find_xcom_args(item)]
    return []


def resolve_xcom_args(value: Any, xcom: XComAccess) -> Any:
    """`value` with every XComArg replaced by the upstream task's value."""
    if isinstance(value, XComArg):
        return value.resolve(xcom)
    if isinstance(value, list):
        return [resolve_xcom_args(v, xcom) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_xcom_args(v, xcom) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(resolve_xcom_args(v, xcom) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, xcom) for k, v in value.items()}
    return value


class DecoratedPythonOperator(PythonOperator):
    """The operator a `@task` call creates; its arguments may hold XComArgs.

    Unlike PythonOperator, arguments are not rendered as templates: values
    handed on from upstream tasks must arrive exactly as they were returned.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict",)

    def __init__(self, *, has_xcom_args: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.has_xcom_args = has_xcom_args

    def execute(self, context: Context) -> Any:
        if not self.has_xcom_args:
            return super().execute(context)
        xcom = context["ti"].xcom
        return self.call(
            context, resolve_xcom_args(self.op_args, xcom), resolve_xcom_args(self.op_kwargs, xcom)
        )


class TaskFunction:
    """What `@task` returns: call it inside a DAG to add a task and get its XComArg."""

    def __init__(self, function: Callable[..., Any], task_kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.task_kwargs = dict(task_kwargs)
        functools.update_wrapper(self, function)

    def override(self, **task_kwargs: Any) -> TaskFunction:
        """The same function with other task settings (task_id, pool, retries…)."""
        return TaskFunction(self.function, {**self.task_kwargs, **task_kwargs})

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        dag = self.task_kwargs.get("dag") or registry.current_dag()
        if dag is None:
            raise DagAssignmentError(
                f"Task function {self.function.__name__!r} was called outside a DAG: call it "
                "inside a @dag function or a `with DAG(...)` block."
            )
        options = {k: v for k, v in self.task_kwargs.items() if k not in ("dag", "task_id")}
        task_id = self.task_kwargs.get("task_id") or self.function.__name__
        upstream = find_xcom_args(args) + find_xcom_args(kwargs)
        operator = DecoratedPythonOperator(
            task_id=dag.unique_task_id(task_id),
            dag=dag,
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            has_xcom_args=bool(upstream),
            **options,
        )
        for xcom_arg in upstream:
            xcom_arg.operator.add_edge_to(operator)
        return XComArg(operator)


@overload
def task(python_callable: Callable[..., Any], /) -> TaskFunction: ...
@overload
def task(
    python_callable: None = None, /, **task_kwargs: Any
) -> Callable[[Callable[..., Any]], TaskFunction]: ...
def task(
    python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
    """Make a Python function a task: `@task` or `@task(pool="db", retries=2)`."""
    if python_callable is not None:
        return TaskFunction(python_callable, task_kwargs)

    def decorate(function: Callable[..., Any]) -> TaskFunction:
        return TaskFunction(function, task_kwargs)

    return decorate
