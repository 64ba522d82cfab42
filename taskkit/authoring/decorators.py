"""`@task`: Python functions as tasks, whose outputs wire themselves into the graph.

Variants: `@task.branch`, `@task.short_circuit`, `@task.sensor`.
"""

from __future__ import annotations

import enum
import functools
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, overload

from taskkit.authoring import registry
from taskkit.authoring.baseoperator import NOTSET
from taskkit.authoring.branching import BranchMixin, ShortCircuitMixin
from taskkit.authoring.dependencies import DependencyMixin
from taskkit.authoring.operators import PythonOperator, checked_processor, run_bash, signature_of
from taskkit.authoring.params import DagParam, holds_dag_param
from taskkit.authoring.sensor import BaseSensorOperator, PokeReturnValue
from taskkit.authoring.shared_state import share_defaults
from taskkit.authoring.templating import render
from taskkit.errors import DagAssignmentError

if TYPE_CHECKING:
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.context import Context, XComAccess
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.mapping import MapXComArg, TaskFunctionPartial, ZipXComArg


class XComArg(DependencyMixin):
    """A task's future output: pass it to another task to send the value and add the edge."""

    def __init__(self, operator: BaseOperator, key: str = "return_value") -> None:
        self.operator = operator
        self.key = key

    def as_operators(self) -> list[BaseOperator]:
        return [self.operator]

    def as_setup(self) -> XComArg:
        """Make the task behind this value a setup task."""
        self.operator.as_setup()
        return self

    def as_teardown(
        self,
        *,
        setups: DependencyMixin | Sequence[DependencyMixin] | None = None,
        on_failure_fail_dagrun: bool = False,
    ) -> XComArg:
        """Make the task behind this value a teardown task (see BaseOperator.as_teardown)."""
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> XComArg:
        """`with teardown_fn(setup_fn()):`: see BaseOperator.__enter__."""
        self.operator.__enter__()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.operator.__exit__(exc_type, exc, tb)

    def __iter__(self) -> Iterator[Any]:
        # Without this, `__getitem__` would make iterating (`dict(arg)`, `list(arg)`) loop
        # forever, asking for keys 0, 1, 2...
        raise TypeError(
            f"{self!r} is a task's future output and cannot be iterated where the DAG is "
            "written; pass it whole to a task, or map over it with .expand()."
        )

    def __getitem__(self, key: str) -> XComArg:
        """The value the task pushed under `key` (`multiple_outputs` pushes one per dict key)."""
        return XComArg(self.operator, key)

    def resolve(self, xcom: XComAccess) -> Any:
        return xcom.pull(self.operator.task_id, self.key)

    def map(self, function: Callable[[Any], Any]) -> MapXComArg:
        """This value with `function` applied to each item, where a try consumes it."""
        # Lazy: mapping loads only when a DAG maps a task; it subclasses this module's classes.
        from taskkit.authoring.mapping import xcom_map

        return xcom_map(self, function)

    def zip(self, *others: XComArg, fillvalue: Any = NOTSET) -> ZipXComArg:
        """Tuples of this value's items and `others`' at each position (zip, or zip_longest
        filling with `fillvalue` when it is given)."""
        # Lazy: see map.
        from taskkit.authoring.mapping import xcom_zip

        return xcom_zip(self, others, fillvalue)

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


def resolve_xcom_args(value: Any, xcom: XComAccess, params: Mapping[str, Any] | None = None) -> Any:
    """`value` with every XComArg replaced by the upstream task's value.

    Given the try's `params`, every DagParam is replaced by its value too.
    """
    if isinstance(value, XComArg):
        return value.resolve(xcom)
    if isinstance(value, DagParam) and params is not None:
        return value.resolve(params)
    if isinstance(value, list):
        return [resolve_xcom_args(v, xcom, params) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_xcom_args(v, xcom, params) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(resolve_xcom_args(v, xcom, params) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, xcom, params) for k, v in value.items()}
    return value


class DecoratedPythonOperator(PythonOperator):
    """The operator a `@task` call creates; its arguments may hold XComArgs.

    Unlike PythonOperator, arguments are not rendered as templates: values
    handed on from upstream tasks must arrive exactly as they were returned.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict",)

    def __init__(self, *, has_xcom_args: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Whether the arguments hold values known only when a try runs: XComArgs, DagParams.
        self.has_xcom_args = has_xcom_args or holds_dag_param((self.op_args, self.op_kwargs))

    def execute(self, context: Context) -> Any:
        if not self.has_xcom_args:
            return super().execute(context)
        xcom, params = context["ti"].xcom, context["params"]
        return self.call(
            context,
            resolve_xcom_args(self.op_args, xcom, params),
            resolve_xcom_args(self.op_kwargs, xcom, params),
        )


share_defaults(DecoratedPythonOperator, values={"has_xcom_args": False}, fresh={})


class _DecoratedBranchOperator(BranchMixin, DecoratedPythonOperator):
    """What `@task.branch` creates: the function returns the task id(s) to follow."""

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))


class _DecoratedShortCircuitOperator(ShortCircuitMixin, DecoratedPythonOperator):
    """What `@task.short_circuit` creates: a falsy return value skips downstream tasks."""

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        return self.short_circuit(context, super().execute(context))


class _DecoratedSensorOperator(BaseSensorOperator, DecoratedPythonOperator):
    """What `@task.sensor` creates: the function is the poke; a done PokeReturnValue's
    xcom_value becomes the task's value."""

    def poke(self, context: Context) -> bool | PokeReturnValue:
        value = DecoratedPythonOperator.execute(self, context)
        return value if isinstance(value, PokeReturnValue) else PokeReturnValue(bool(value))


class _DecoratedBashOperator(DecoratedPythonOperator):
    """What `@task.bash` creates: the function returns a bash command, which is rendered as
    a template and run as BashOperator runs one (its last line of output is the value)."""

    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict", "env", "cwd")

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        append_env: bool = False,
        cwd: str | None = None,
        skip_on_exit_code: int | None = 99,
        output_processor: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.env = dict(env) if env is not None else None
        self.append_env = append_env
        self.cwd = cwd
        self.skip_on_exit_code = skip_on_exit_code
        self.output_processor = checked_processor(self, output_processor)

    def execute(self, context: Context) -> Any:
        command = super().execute(context)
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"@task.bash task {self.task_id!r} returned {command!r}: its function must "
                "return the bash command to run, a non-empty string."
            )
        output = run_bash(
            str(render(command, context, self)),
            env=self.env,
            append_env=self.append_env,
            cwd=self.cwd,
            skip_on_exit_code=self.skip_on_exit_code,
        )
        if self.output_processor is None:
            return output
        return self.output_processor(output or "")  # as BashOperator does


class TaskRole(enum.Enum):
    """Whether a task function's tasks set up or tear down resources (Airflow 2.7+)."""

    WORK = "work"
    SETUP = "setup"
    TEARDOWN = "teardown"


class TaskFunction:
    """What `@task` returns: call it inside a DAG to add a task and get its XComArg."""

    def __init__(
        self,
        function: Callable[..., Any],
        task_kwargs: Mapping[str, Any],
        operator_class: type[DecoratedPythonOperator] = DecoratedPythonOperator,
        role: TaskRole = TaskRole.WORK,
        on_failure_fail_dagrun: bool = False,
    ) -> None:
        self.function = function
        self.task_kwargs = dict(task_kwargs)
        self.operator_class = operator_class
        self.role = role
        self.on_failure_fail_dagrun = on_failure_fail_dagrun
        functools.update_wrapper(self, function)

    def override(self, **task_kwargs: Any) -> TaskFunction:
        """The same function with other task settings (task_id, pool, retries…)."""
        return self.evolve(task_kwargs={**self.task_kwargs, **task_kwargs})

    def evolve(self, **changes: Any) -> TaskFunction:
        """A copy of this task function with some of its settings changed."""
        settings: dict[str, Any] = {
            "task_kwargs": self.task_kwargs,
            "operator_class": self.operator_class,
            "role": self.role,
            "on_failure_fail_dagrun": self.on_failure_fail_dagrun,
        }
        return TaskFunction(self.function, **{**settings, **changes})

    def partial(self, *args: Any, **kwargs: Any) -> TaskFunctionPartial:
        """The arguments every instance of a mapped task shares; then `.expand(...)` it."""
        # Lazy: see XComArg.map.
        from taskkit.authoring.mapping import TaskFunctionPartial

        return TaskFunctionPartial(self, args, kwargs)

    def expand(self, **mapped: Any) -> XComArg:
        """A mapped task: one instance per item of each argument (their cross product)."""
        return self.partial().expand(**mapped)

    def expand_kwargs(self, value: Any) -> XComArg:
        """A mapped task: one instance per dict of arguments in `value`."""
        return self.partial().expand_kwargs(value)

    def dag_and_options(self, verb: str) -> tuple[DAG, dict[str, Any]]:
        """The DAG a new task of this function joins, and its operator options.

        `verb` says what was done outside a DAG ("called", "expanded") in the error.
        """
        dag = self.task_kwargs.get("dag") or registry.current_dag()
        if dag is None:
            raise DagAssignmentError(
                f"Task function {self.function.__name__!r} was {verb} outside a DAG: use it "
                "inside a @dag function or a `with DAG(...)` block."
            )
        options = {k: v for k, v in self.task_kwargs.items() if k not in ("dag", "task_id")}
        if "multiple_outputs" not in options and _returns_dict(self.function):
            options["multiple_outputs"] = True
        return dag, options

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        dag, options = self.dag_and_options("called")
        task_id = self.task_kwargs.get("task_id") or self.function.__name__
        upstream = find_xcom_args(args) + find_xcom_args(kwargs)
        operator = self.operator_class(
            task_id=dag.unique_task_id(task_id),
            dag=dag,
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            has_xcom_args=bool(upstream),
            **options,
        )
        for xcom_arg in upstream:
            for source in xcom_arg.as_operators():
                source.add_edge_to(operator)
        if self.role is TaskRole.SETUP:
            operator.as_setup()
        elif self.role is TaskRole.TEARDOWN:
            operator.as_teardown(on_failure_fail_dagrun=self.on_failure_fail_dagrun)
        return XComArg(operator)


def _returns_dict(function: Callable[..., Any]) -> bool:
    """Whether the function is annotated to return a dict (Airflow then infers multiple_outputs)."""
    signature = signature_of(function)
    if signature is None:
        return False
    annotation = signature.return_annotation
    if isinstance(annotation, str):  # postponed annotations: read the text
        return annotation.replace(" ", "").startswith(("dict", "Dict", "typing.Dict"))
    return annotation is dict or typing.get_origin(annotation) is dict


def _decorator(
    operator_class: type[DecoratedPythonOperator],
    python_callable: Callable[..., Any] | None,
    task_kwargs: Mapping[str, Any],
) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
    if python_callable is not None:
        return TaskFunction(python_callable, task_kwargs, operator_class)

    def decorate(function: Callable[..., Any]) -> TaskFunction:
        return TaskFunction(function, task_kwargs, operator_class)

    return decorate


class _TaskDecorator:
    """`@task`, with Airflow's variants as attributes: `@task.branch`, `@task.short_circuit`."""

    @overload
    def __call__(self, python_callable: Callable[..., Any], /) -> TaskFunction: ...
    @overload
    def __call__(
        self, python_callable: None = None, /, **task_kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskFunction]: ...
    def __call__(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """Make a Python function a task: `@task` or `@task(pool="db", retries=2)`."""
        return _decorator(DecoratedPythonOperator, python_callable, task_kwargs)

    @overload
    def branch(self, python_callable: Callable[..., Any], /) -> TaskFunction: ...
    @overload
    def branch(
        self, python_callable: None = None, /, **task_kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskFunction]: ...
    def branch(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """A task whose function returns the downstream task id(s) to follow, or None."""
        return _decorator(_DecoratedBranchOperator, python_callable, task_kwargs)

    @overload
    def short_circuit(self, python_callable: Callable[..., Any], /) -> TaskFunction: ...
    @overload
    def short_circuit(
        self, python_callable: None = None, /, **task_kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskFunction]: ...
    def short_circuit(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """A task whose falsy return value skips what is downstream of it."""
        return _decorator(_DecoratedShortCircuitOperator, python_callable, task_kwargs)

    @overload
    def sensor(self, python_callable: Callable[..., Any], /) -> TaskFunction: ...
    @overload
    def sensor(
        self, python_callable: None = None, /, **task_kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskFunction]: ...
    def sensor(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """A sensor whose function is its poke: it returns a bool or a PokeReturnValue.

        Takes the sensor arguments too: `@task.sensor(poke_interval=30, mode="reschedule")`.
        """
        return _decorator(_DecoratedSensorOperator, python_callable, task_kwargs)

    @overload
    def bash(self, python_callable: Callable[..., Any], /) -> TaskFunction: ...
    @overload
    def bash(
        self, python_callable: None = None, /, **task_kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskFunction]: ...
    def bash(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """A task whose function returns a bash command to run (rendered as a template first).

        Takes BashOperator's `env`, `append_env`, `cwd`, `skip_on_exit_code` and
        `output_processor`.
        """
        return _decorator(_DecoratedBashOperator, python_callable, task_kwargs)

    @overload
    def virtualenv(self, python_callable: Callable[..., Any], /) -> TaskFunction: ...
    @overload
    def virtualenv(
        self, python_callable: None = None, /, **task_kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskFunction]: ...
    def virtualenv(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """A task run in a cached virtualenv: `@task.virtualenv(requirements=[...])`."""
        # isolated_python imports this module, so it is imported when first used.
        from taskkit.authoring.isolated_python import DecoratedVirtualenvOperator

        return _decorator(DecoratedVirtualenvOperator, python_callable, task_kwargs)

    def external_python(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """A task run by an existing interpreter: `@task.external_python(python=...)`."""
        # isolated_python imports this module, so it is imported when first used.
        from taskkit.authoring.isolated_python import DecoratedExternalPythonOperator

        return _decorator(DecoratedExternalPythonOperator, python_callable, task_kwargs)

    def branch_virtualenv(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """`@task.virtualenv` whose function returns the task id(s) to follow, or None."""
        # isolated_python imports this module, so it is imported when first used.
        from taskkit.authoring.isolated_python import DecoratedBranchVirtualenvOperator

        return _decorator(DecoratedBranchVirtualenvOperator, python_callable, task_kwargs)

    def branch_external_python(
        self, python_callable: Callable[..., Any] | None = None, /, **task_kwargs: Any
    ) -> TaskFunction | Callable[[Callable[..., Any]], TaskFunction]:
        """`@task.external_python` whose function returns the task id(s) to follow, or None."""
        # isolated_python imports this module, so it is imported when first used.
        from taskkit.authoring.isolated_python import DecoratedBranchExternalPythonOperator

        return _decorator(DecoratedBranchExternalPythonOperator, python_callable, task_kwargs)


task = _TaskDecorator()


def _with_role(
    role: TaskRole, function: Callable[..., Any] | TaskFunction, on_failure_fail_dagrun: bool
) -> TaskFunction:
    if not isinstance(function, TaskFunction):
        function = TaskFunction(function, {})
    return function.evolve(role=role, on_failure_fail_dagrun=on_failure_fail_dagrun)


def setup(function: Callable[..., Any] | TaskFunction) -> TaskFunction:
    """Mark a task function as a setup task (`@setup`, or `@setup` over `@task(...)`)."""
    return _with_role(TaskRole.SETUP, function, False)


@overload
def teardown(function: Callable[..., Any] | TaskFunction, /) -> TaskFunction: ...
@overload
def teardown(
    function: None = None, /, *, on_failure_fail_dagrun: bool = False
) -> Callable[[Callable[..., Any] | TaskFunction], TaskFunction]: ...
def teardown(
    function: Callable[..., Any] | TaskFunction | None = None,
    /,
    *,
    on_failure_fail_dagrun: bool = False,
) -> TaskFunction | Callable[[Callable[..., Any] | TaskFunction], TaskFunction]:
    """Mark a task function as a teardown task: it runs even when the work failed.

    Its failure leaves the run's state alone unless `on_failure_fail_dagrun=True`.
    """
    if function is not None:
        return _with_role(TaskRole.TEARDOWN, function, on_failure_fail_dagrun)

    def decorate(inner: Callable[..., Any] | TaskFunction) -> TaskFunction:
        return _with_role(TaskRole.TEARDOWN, inner, on_failure_fail_dagrun)

    return decorate
