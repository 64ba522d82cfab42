"""Jinja rendering of operator fields as Airflow does it; Jinja is imported only when needed.

What a template sees and how it renders come from the task and its DAG:
`user_defined_macros` and `user_defined_filters`, `template_searchpath`
(after the DAG file's folder) for `template_ext` files, native Python
results with `render_template_as_native_obj`, and `template_undefined`:
an undefined name fails the try, as in Airflow 2 and 3 (whose DAG default
is `jinja2.StrictUndefined`); `template_undefined=jinja2.Undefined` renders
it as empty instead (Airflow 1's default).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from taskkit.authoring.params import DagParam
from taskkit.errors import TemplateFileNotFoundError

if TYPE_CHECKING:
    import jinja2

    from taskkit.authoring.context import Context
    from taskkit.authoring.dag import DAG

_CACHE_SIZE = 1024


def has_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def render(value: Any, context: Context, task: Any = None) -> Any:
    """Render every string inside `value` (recursing into lists, tuples and dicts).

    `task` (default: the context's `task`) chooses the DAG's settings and
    its `template_ext`: a string ending in one of those extensions is the
    path of a template file. Values with nothing to render come back as the
    very same objects, so plain values cost nothing, never import Jinja,
    and callers can tell by identity whether anything was rendered.
    A DagParam (a `@dag` function's parameter) becomes the run's value.
    """
    if not isinstance(value, (str, list, tuple, dict)):
        if isinstance(value, DagParam):
            return value.resolve(context["params"])
        return value  # None, numbers…: the common case, kept cheap (rendered once per try)
    if task is None:
        task = context.get("task")
    return _render(value, context, task, tuple(getattr(task, "template_ext", ())))


def _render(value: Any, context: Context, task: Any, extensions: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        if extensions and value.endswith(extensions):
            return renderer_for(task).render_file(value, context)
        if not has_template(value):
            return value
        return renderer_for(task).render_string(value, context)
    if isinstance(value, DagParam):
        return value.resolve(context["params"])
    if isinstance(value, (list, tuple)):
        items = [_render(v, context, task, extensions) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        rendered = {k: _render(v, context, task, extensions) for k, v in value.items()}
        if all(rendered[k] is v for k, v in value.items()):
            return value
        return rendered
    return value


class Renderer:
    """One Jinja environment (a DAG's settings) with its compiled templates."""

    def __init__(self, environment: jinja2.Environment) -> None:
        self.environment = environment
        self._compiled: dict[str, jinja2.Template] = {}

    def render_string(self, source: str, context: Context) -> Any:
        template = self._compiled.get(source)
        if template is None:
            if len(self._compiled) >= _CACHE_SIZE:
                self._compiled.clear()
            template = self._compiled[source] = self.environment.from_string(source)
        return template.render(context)

    def render_file(self, name: str, context: Context) -> Any:
        """Render the template file `name`, found in the DAG's folder or template_searchpath."""
        import jinja2  # already loaded: this renderer's environment is a Jinja one

        try:
            template = self.environment.get_template(name)
        except jinja2.TemplateNotFound:
            loader = self.environment.loader
            folders = getattr(loader, "searchpath", [])
            raise TemplateFileNotFoundError(
                f"Template file {name!r} is not in {', '.join(folders) or 'any folder'}; "
                "put it beside the DAG file or in the DAG's template_searchpath (a field "
                "value ending in one of the task's template_ext is read as a file)."
            ) from None
        return template.render(context)


_by_dag: weakref.WeakKeyDictionary[DAG, dict[bool, Renderer]] = weakref.WeakKeyDictionary()
_plain: dict[bool, Renderer] = {}


def renderer_for(task: Any) -> Renderer:
    """The renderer of `task`'s DAG (built once per DAG), or a plain one without a task."""
    dag = getattr(task, "dag", None)
    native = getattr(task, "render_template_as_native_obj", None)
    if dag is None:
        native = bool(native)
        if native not in _plain:
            _plain[native] = Renderer(_environment(native=native))
        return _plain[native]
    if native is None:
        native = bool(dag.render_template_as_native_obj)
    renderers = _by_dag.setdefault(dag, {})
    if native not in renderers:
        renderers[native] = Renderer(_dag_environment(dag, native=native))
    return renderers[native]


def _dag_environment(dag: DAG, *, native: bool) -> jinja2.Environment:
    # Imported here, with Jinja: pathlib is ~2 ms of a cold DAG.test() that renders nothing.
    from pathlib import Path

    searchpath = [str(Path(dag.fileloc).parent)] if dag.fileloc else []
    searchpath += dag.template_searchpath
    environment = _environment(
        native=native, undefined=dag.template_undefined, searchpath=searchpath
    )
    environment.globals.update(dag.user_defined_macros)
    environment.filters.update(dag.user_defined_filters)
    return environment


def _environment(
    *, native: bool, undefined: type | None = None, searchpath: list[str] | None = None
) -> jinja2.Environment:
    # Imported here, not at the top: `import taskkit` must not load Jinja.
    import jinja2
    import jinja2.nativetypes

    cls = jinja2.nativetypes.NativeEnvironment if native else jinja2.Environment
    environment = cls(
        undefined=undefined or jinja2.StrictUndefined,
        loader=jinja2.FileSystemLoader(searchpath or []),
        autoescape=False,
        cache_size=_CACHE_SIZE,
    )
    environment.filters.update(FILTERS)
    return environment


def _ds(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _ds_nodash(value: dt.datetime) -> str:
    return value.strftime("%Y%m%d")


def _ts(value: dt.datetime) -> str:
    return value.isoformat()


def _ts_nodash(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _ts_nodash_with_tz(value: dt.datetime) -> str:
    return value.isoformat().replace("-", "").replace(":", "")


#: Airflow's date filters: `{{ data_interval_end | ds }}`.
FILTERS: dict[str, Callable[[dt.datetime], str]] = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}
