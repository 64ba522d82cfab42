"""Tasks whose callable runs in another Python: a cached virtualenv, or a given interpreter.

As in Airflow, the callable's SOURCE is run there (it must be self-contained:
imports inside the function), its arguments go in and its return value
comes back through a file, serialized with `serializer` ("pickle", the
default, "cloudpickle" or "dill": the latter two must be installed both
here and there). Only the context values that survive serialization
(dates, ids, params, conf) can be passed to it; its output is streamed into
the try's log. `string_args` are the global `virtualenv_string_args` there.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
import tempfile
import textwrap
import types
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskkit.authoring.branching import BranchMixin
from taskkit.authoring.dag import plain_datetime
from taskkit.authoring.decorators import DecoratedPythonOperator
from taskkit.authoring.operators import AIRFLOW_2_DATE_KEYS, PythonOperator, run_streaming
from taskkit.authoring.venv_cache import VenvRecipe, default_cache_root, ensure_venv, find_python
from taskkit.errors import IsolatedPythonError, TaskSkipped

if TYPE_CHECKING:
    from taskkit.authoring.context import Context

#: Context values that are plain data, so they can cross into the other interpreter.
SERIALIZABLE_CONTEXT_KEYS = AIRFLOW_2_DATE_KEYS | frozenset(
    {
        "ds",
        "ds_nodash",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "prev_data_interval_start_success",
        "prev_data_interval_end_success",
        "prev_start_date_success",
        "prev_end_date_success",
        "run_id",
        "params",
        "conf",
        "templates_dict",
        "try_number",
    }
)
SERIALIZERS = ("pickle", "cloudpickle", "dill")
#: The exit code of the runner when the other Python lacks the serializer's package.
_NO_SERIALIZER = 97

# The callable's source is put first, so the serializer is imported where it is used.
_RUNNER = """
import sys

try:
    import {serializer} as _serializer
except ImportError:
    sys.exit({no_serializer})

with open(sys.argv[3], encoding="utf-8") as _file:
    virtualenv_string_args = [_line.strip() for _line in _file]
with open(sys.argv[1], "rb") as _file:
    _arguments = _serializer.load(_file)
_result = {name}(*_arguments["args"], **_arguments["kwargs"])
with open(sys.argv[2], "wb") as _file:
    _serializer.dump(_result, _file)
"""


def callable_source(function: Callable[..., Any]) -> str:
    """The function's source without its decorators (`@task.virtualenv(...)`), dedented."""
    source = textwrap.dedent(inspect.getsource(function))
    node = ast.parse(source).body[0]
    return "\n".join(source.splitlines()[node.lineno - 1 :]) + "\n"


class IsolatedPythonMixin:
    """Runs the callable's source in `self.python_path()`; shared by both operators."""

    task_id: str
    python_callable: Callable[..., Any]
    _context_names: frozenset[str]
    _takes_kwargs: bool

    def _init_isolated(
        self,
        serializer: str | None,
        skip_on_exit_code: int | Collection[int] | None,
        env_vars: Mapping[str, str] | None,
        inherit_env: bool,
        string_args: Iterable[str] | None = None,
    ) -> None:
        function = self.python_callable
        fail = self._fail  # type: ignore[attr-defined]
        if not isinstance(function, types.FunctionType) or function.__name__ == "<lambda>":
            raise fail(
                f"{type(self).__name__} runs a function's source in another Python, so "
                "python_callable must be a function defined with `def`, not a lambda."
            )
        if inspect.isgeneratorfunction(function):
            raise fail("python_callable must return a value, not `yield` (a generator).")
        unsent = sorted(self._context_names - SERIALIZABLE_CONTEXT_KEYS)
        if unsent:
            raise fail(
                f"the callable asks for {', '.join(unsent)}, which cannot be sent to another "
                f"Python; it may take: {', '.join(sorted(SERIALIZABLE_CONTEXT_KEYS))}."
            )
        serializer = serializer or "pickle"
        if serializer not in SERIALIZERS:
            raise fail(f"serializer must be one of {', '.join(SERIALIZERS)}, got {serializer!r}.")
        self.serializer = serializer
        if isinstance(string_args, str):
            raise fail("string_args must be a list of strings (one per line), not one string.")
        self.string_args = [str(a) for a in string_args or ()]
        if any("\n" in a for a in self.string_args):
            raise fail("string_args must not hold newlines: each one is read back as one line.")
        if skip_on_exit_code is None:
            skip_on_exit_code = ()
        elif isinstance(skip_on_exit_code, int):
            skip_on_exit_code = (skip_on_exit_code,)
        self.skip_on_exit_code = frozenset(skip_on_exit_code)
        self.env_vars = dict(env_vars or {})
        self.inherit_env = inherit_env
        # Kept now: a worker may not have the DAG file to read it from.
        self.python_source = callable_source(function)

    def python_path(self) -> str:
        raise NotImplementedError

    def call(self, context: Context, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Run the callable in the other Python with these arguments; return what it returned."""
        context["templates_dict"] = getattr(self, "templates_dict", None)
        names = SERIALIZABLE_CONTEXT_KEYS if self._takes_kwargs else self._context_names
        # Plain datetimes: the other Python need not have pendulum (DAG.pendulum_dates).
        passed = {n: plain_datetime(context[n]) for n in names if n in context}
        python = self.python_path()
        with tempfile.TemporaryDirectory(prefix="taskkit-python-") as folder:
            work = Path(folder)
            library = self._serializer_here()
            (work / "string_args.txt").write_text("\n".join(self.string_args), encoding="utf-8")
            (work / "in.bin").write_bytes(
                library.dumps({"args": list(args), "kwargs": {**passed, **kwargs}})
            )
            script = "from __future__ import annotations\n\n" + self.python_source
            script += _RUNNER.format(
                serializer=self.serializer,
                name=self.python_callable.__name__,
                no_serializer=_NO_SERIALIZER,
            )
            (work / "script.py").write_text(script, encoding="utf-8")
            code = self._run(python, work)
            if code == _NO_SERIALIZER:
                raise IsolatedPythonError(
                    f"serializer={self.serializer!r}: {python} cannot import {self.serializer}; "
                    f"add {self.serializer!r} to requirements (or install it in that Python)."
                )
            if code in self.skip_on_exit_code:
                raise TaskSkipped(f"the callable's Python exited with {code} (skip_on_exit_code)")
            if code != 0:
                raise IsolatedPythonError(
                    f"{self.python_callable.__name__}() failed in {python} with exit code "
                    f"{code}; its traceback is in the log above."
                )
            return library.loads((work / "out.bin").read_bytes())

    def _serializer_here(self) -> Any:
        """The serializer's module in taskkit's own Python, which writes the arguments."""
        try:
            return importlib.import_module(self.serializer)  # named by the user, as Airflow
        except ImportError:
            raise IsolatedPythonError(
                f"serializer={self.serializer!r} needs the {self.serializer} package in "
                f"taskkit's Python ({sys.executable}) too: pip install {self.serializer}"
            ) from None

    def _run(self, python: str, work: Path) -> int:
        env = {**(os.environ if self.inherit_env else {}), **self.env_vars}
        files = ("in.bin", "out.bin", "string_args.txt")
        command = [python, str(work / "script.py"), *(str(work / f) for f in files)]
        code, _ = run_streaming(command, env=env, cwd=work)
        return code


class PythonVirtualenvOperator(IsolatedPythonMixin, PythonOperator):
    """Runs `python_callable` in a virtualenv with `requirements` installed.

    The venv is cached under $TASKKIT_HOME/venvs (or `venv_cache_path`),
    keyed by the requirements, `python_version`, `system_site_packages`,
    pip options and `index_urls`, so only the first try pays for building it.
    `index_urls` is where pip looks, as Airflow writes it to the venv's
    pip.conf: the first is the index-url, the others extra-index-urls; an
    empty list means no index at all.
    """

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        requirements: str | Collection[str] | None = None,
        python_version: str | None = None,
        serializer: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: Collection[str] | None = None,
        skip_on_exit_code: int | Collection[int] | None = None,
        index_urls: str | Collection[str] | None = None,
        venv_cache_path: str | os.PathLike[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        string_args: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        if isinstance(index_urls, str):
            index_urls = [index_urls]
        if index_urls is not None and not all(isinstance(u, str) and u for u in index_urls):
            raise self._fail(f"index_urls must be index URLs (strings), got {index_urls!r}.")
        self.index_urls = None if index_urls is None else list(index_urls)
        if python_version is not None and not isinstance(python_version, str):
            raise self._fail(
                f"python_version must be a string such as '3.11', got {python_version!r}."
            )
        if isinstance(requirements, str):
            requirements = [requirements]
        self.requirements = sorted(str(r) for r in requirements or ())
        self.python_version = python_version
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or ())
        self.venv_cache_path = venv_cache_path
        self._init_isolated(serializer, skip_on_exit_code, env_vars, inherit_env, string_args)

    def python_path(self) -> str:
        requirements = list(self.requirements)
        if self.serializer != "pickle" and self.serializer not in requirements:
            # The venv's Python must be able to load it: added as Airflow does.
            requirements = sorted([*requirements, self.serializer])
        recipe = VenvRecipe(
            find_python(self.python_version),
            tuple(requirements),
            self.system_site_packages,
            tuple(self.pip_install_options),
            None if self.index_urls is None else tuple(self.index_urls),
        )
        root = Path(self.venv_cache_path) if self.venv_cache_path else default_cache_root()
        return str(ensure_venv(recipe, root))


class ExternalPythonOperator(IsolatedPythonMixin, PythonOperator):
    """Runs `python_callable` with an existing interpreter, `python` (a venv's bin/python)."""

    def __init__(
        self,
        *,
        python: str | os.PathLike[str],
        python_callable: Callable[..., Any],
        serializer: str | None = None,
        skip_on_exit_code: int | Collection[int] | None = None,
        env_vars: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        string_args: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        if not python or not isinstance(python, (str, os.PathLike)):
            raise self._fail(
                "python must be the path of a Python interpreter, e.g. '/opt/venv/bin/python'."
            )
        self.python = os.fspath(python)
        self._init_isolated(serializer, skip_on_exit_code, env_vars, inherit_env, string_args)

    def python_path(self) -> str:
        # Checked when the try runs: the DAG may be parsed where that interpreter isn't.
        if not os.access(self.python, os.X_OK) or Path(self.python).is_dir():
            raise IsolatedPythonError(
                f"Task {self.task_id!r}: python={self.python!r} is not an executable "
                "interpreter on this machine; point it at an existing bin/python."
            )
        return self.python


class DecoratedVirtualenvOperator(PythonVirtualenvOperator, DecoratedPythonOperator):
    """What `@task.virtualenv` creates; its arguments may hold upstream XComArgs."""


class DecoratedExternalPythonOperator(ExternalPythonOperator, DecoratedPythonOperator):
    """What `@task.external_python` creates; its arguments may hold upstream XComArgs."""


class BranchPythonVirtualenvOperator(BranchMixin, PythonVirtualenvOperator):
    """PythonVirtualenvOperator whose callable returns the task id(s) to follow, or None."""

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))


class BranchExternalPythonOperator(BranchMixin, ExternalPythonOperator):
    """ExternalPythonOperator whose callable returns the task id(s) to follow, or None."""

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))


class DecoratedBranchVirtualenvOperator(BranchMixin, DecoratedVirtualenvOperator):
    """What `@task.branch_virtualenv` creates."""

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))


class DecoratedBranchExternalPythonOperator(BranchMixin, DecoratedExternalPythonOperator):
    """What `@task.branch_external_python` creates."""

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))
