"""The built-in operators: PythonOperator, BashOperator and EmptyOperator."""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring.asset_events import drain_metadata
from taskkit.authoring.baseoperator import BaseOperator
from taskkit.authoring.params import DagParam
from taskkit.authoring.shared_state import share_defaults
from taskkit.errors import InvalidTaskParameterError, TaskSkipped

if TYPE_CHECKING:
    from taskkit.authoring.context import Context
    from taskkit.authoring.decorators import XComArg

#: Airflow 2's dates, which Airflow 3 removed (authoring/context.airflow_2_dates).
AIRFLOW_2_DATE_KEYS = frozenset(
    {
        "execution_date",
        "next_execution_date",
        "next_ds",
        "next_ds_nodash",
        "tomorrow_ds",
        "tomorrow_ds_nodash",
        "yesterday_ds",
        "yesterday_ds_nodash",
        "prev_execution_date",
        "prev_ds",
        "prev_ds_nodash",
        "prev_execution_date_success",
    }
)

#: Context keys a callable receives when it names them as parameters.
CONTEXT_KEYS = AIRFLOW_2_DATE_KEYS | frozenset(
    {
        "ti",
        "task_instance",
        "dag_run",
        "logical_date",
        "params",
        "conf",
        "ds",
        "ds_nodash",
        "ts",
        "ts_nodash",
        "run_id",
        "task",
        "try_number",
        "data_interval_start",
        "data_interval_end",
        "dag",
        "macros",
        "templates_dict",
        "ts_nodash_with_tz",
        "task_instance_key_str",
        "prev_data_interval_start_success",
        "prev_data_interval_end_success",
        "prev_start_date_success",
        "prev_end_date_success",
        "inlets",
        "outlets",
        "outlet_events",
        "inlet_events",
        "triggering_asset_events",
        "triggering_dataset_events",
    }
)


#: Context values of Airflow that taskkit does not provide: a callable naming one gets its
#: parameter's default, and its DAG a warning.
AIRFLOW_ONLY_CONTEXT_KEYS = frozenset(
    {
        "task_state_store",
        "asset_state_store",
        "partition_key",
        "partition_date",
        "expanded_ti_count",
        "task_reschedule_count",
        "test_mode",
    }
)


def signature_of(function: Callable[..., Any]) -> inspect.Signature | None:
    """`inspect.signature(function)`, or None for a callable it cannot read; cached.

    One task function called 100,000 times in a DAG file builds 100,000 operators:
    reading its signature once, not twice per operator, is a third of the parse.
    """
    try:
        return _cached_signature(function)
    except TypeError:  # an unhashable callable object: no caching for it
        return _signature(function)


def _signature(function: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


_cached_signature = functools.lru_cache(maxsize=1024)(_signature)


def context_parameters(function: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """Which context keys `function` asks for by name, and whether it takes **kwargs."""
    signature = signature_of(function)
    if signature is None:
        return _NO_NAMES, False
    parameters = signature.parameters.values()
    names = frozenset(p.name for p in parameters if p.name in CONTEXT_KEYS) or _NO_NAMES
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    return names, takes_kwargs


#: One empty set for every callable asking for no context key (CPython makes one per call).
_NO_NAMES: frozenset[str] = frozenset()


class PythonOperator(BaseOperator):
    """Calls `python_callable(*op_args, **op_kwargs)`; its return value becomes the XCom.

    Context values (`ti`, `params`, `logical_date`…) are passed to the
    callable when it names them as parameters, or all of them when it takes
    `**kwargs`. `templates_dict` is rendered and handed over as the context
    value `templates_dict`, as in Airflow; with `templates_exts` (say
    `[".sql"]`), a value ending in one of them is a template file, read and rendered.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: Mapping[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if templates_exts:
            if isinstance(templates_exts, str) or not all(
                isinstance(e, str) and e for e in templates_exts
            ):
                raise InvalidTaskParameterError(
                    f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: templates_exts must be a "
                    f'list of file extensions (e.g. [".sql"]), got {templates_exts!r}.'
                )
            self.template_ext = tuple(templates_exts)  # type: ignore[misc]
        if not callable(python_callable):
            raise InvalidTaskParameterError(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: python_callable must be "
                f"callable, got {python_callable!r}."
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or ())
        self.op_kwargs = dict(op_kwargs or {})
        if templates_dict is not None and not isinstance(templates_dict, Mapping):
            raise InvalidTaskParameterError(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: templates_dict must be a "
                f"dict, got {templates_dict!r}."
            )
        self.templates_dict = dict(templates_dict) if templates_dict is not None else None
        self._context_names, self._takes_kwargs = context_parameters(python_callable)
        self._warn_of_missing_context(python_callable)

    def _warn_of_missing_context(self, function: Callable[..., Any]) -> None:
        """A DAG warning for each Airflow-only context value `function` asks for by name."""
        signature = signature_of(function)
        if signature is None:
            return
        for name in signature.parameters:
            if name not in AIRFLOW_ONLY_CONTEXT_KEYS:
                continue
            warning = (
                f"DAG {self.dag.dag_id!r}: context value {name!r} (asked for by task "
                f"{self.task_id!r}) is an Airflow value taskkit does not provide; the "
                "function gets its parameter's default."
            )
            self._warn_once(f"DAG {self.dag.dag_id!r}: context value {name!r} ", warning)

    def execute(self, context: Context) -> Any:
        return self.call(context, self.op_args, self.op_kwargs)

    def call(self, context: Context, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Call the callable with these arguments plus the context values it asks for."""
        context["templates_dict"] = self.templates_dict
        if self._takes_kwargs:
            kwargs = {**context, **kwargs}
        elif self._context_names:
            kwargs = {**{n: context[n] for n in self._context_names}, **kwargs}
        value = self.python_callable(*args, **kwargs)
        if isinstance(value, types.CoroutineType):  # an `async def` callable, as Airflow 3.1+
            value = _run_coroutine(value)
        if "outlet_events" in context:  # a generator function may `yield Metadata(...)`
            return drain_metadata(value, context["outlet_events"])
        return value


def _run_coroutine(coroutine: types.CoroutineType[Any, Any, Any]) -> Any:
    """Run an `async def` task's coroutine to its end in a new event loop."""
    import asyncio  # lazy: ~10 ms of imports, for the tasks that are coroutines only

    return asyncio.run(coroutine)


share_defaults(
    PythonOperator,
    values={"templates_dict": None, "_context_names": _NO_NAMES, "_takes_kwargs": False},
    fresh={"op_args": list, "op_kwargs": dict},
)


class BashOperator(BaseOperator):
    """Runs `bash_command` with bash; the last line of stdout becomes the XCom.

    A non-zero exit fails the try; exit code 99 (`skip_on_exit_code`) skips it,
    as in Airflow. Output is streamed into the try's log line by line.
    `output_processor` turns that last line into the value pushed (e.g.
    `json.loads`, with `multiple_outputs=True` to push each key). The
    command may be another task's output (`bash_command=make_command()`).
    """

    template_fields: ClassVar[tuple[str, ...]] = ("bash_command", "env", "cwd")
    #: A bash_command ending in one of these is a script file rendered as a template.
    template_ext: ClassVar[tuple[str, ...]] = (".sh", ".bash")

    def __init__(
        self,
        *,
        bash_command: str | DagParam | XComArg,
        env: Mapping[str, str] | None = None,
        append_env: bool = False,
        cwd: str | None = None,
        skip_on_exit_code: int | None = 99,
        output_processor: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Lazy: decorators builds on this module.
        from taskkit.authoring import decorators

        if not isinstance(bash_command, (DagParam, decorators.XComArg)) and (
            not isinstance(bash_command, str) or not bash_command.strip()
        ):
            raise InvalidTaskParameterError(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: bash_command must be a "
                "non-empty string (or a @dag function's parameter, or a task's output)."
            )
        self.bash_command = bash_command
        self.env = dict(env) if env is not None else None
        self.append_env = append_env
        self.cwd = cwd
        self.skip_on_exit_code = skip_on_exit_code
        self.output_processor = checked_processor(self, output_processor)

    def execute(self, context: Context) -> Any:
        # Rendered by now: a DagParam or a task's output has become its value, maybe not a str.
        output = run_bash(
            str(self.bash_command),
            env=self.env,
            append_env=self.append_env,
            cwd=self.cwd,
            skip_on_exit_code=self.skip_on_exit_code,
        )
        if self.output_processor is None:
            return output
        return self.output_processor(output or "")  # as in Airflow: "" when nothing was printed


share_defaults(BashOperator, values={"output_processor": None}, fresh={})


def checked_processor(
    task: BaseOperator, processor: Callable[[str], Any] | None
) -> Callable[[str], Any] | None:
    """An `output_processor`, checked where the DAG is written."""
    if processor is not None and not callable(processor):
        raise InvalidTaskParameterError(
            f"DAG {task.dag.dag_id!r}, task {task.task_id!r}: output_processor must be "
            f"callable (e.g. json.loads), got {processor!r}."
        )
    return processor


def run_bash(
    command: str,
    *,
    env: Mapping[str, str] | None,
    append_env: bool,
    cwd: str | None,
    skip_on_exit_code: int | None,
) -> str | None:
    """Run `command` with bash as BashOperator and `@task.bash` do: stream its output into
    the try's log and return the last line; skip on `skip_on_exit_code`, fail on others."""
    if env is not None:
        env = {**os.environ, **env} if append_env else dict(env)
    code, last_line = run_streaming(["bash", "-c", command], env=env, cwd=cwd)
    if skip_on_exit_code is not None and code == skip_on_exit_code:
        raise TaskSkipped(f"bash exited with {code} (skip_on_exit_code)")
    if code != 0:
        raise RuntimeError(f"bash command failed with exit code {code}")
    return last_line


def run_streaming(
    command: Sequence[str], *, env: Mapping[str, str] | None, cwd: str | os.PathLike[str] | None
) -> tuple[int, str | None]:
    """Run `command`, writing its output (stderr included) into the try's log line by line;
    return its exit code and last line. A timeout or interrupt mid-read kills it: a try never
    leaves its child running behind it."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        text=True,
        errors="replace",
    )
    last_line = None
    assert process.stdout is not None
    try:
        for line in process.stdout:
            sys.stdout.write(line)
            last_line = line.rstrip("\n")
        return process.wait(), last_line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


class EmptyOperator(BaseOperator):
    """Does nothing; useful to join or fan out branches."""

    def execute(self, context: Context) -> None:
        return None


#: Airflow 2's name for EmptyOperator (removed in Airflow 3), so such DAG files port unchanged.
DummyOperator = EmptyOperator
