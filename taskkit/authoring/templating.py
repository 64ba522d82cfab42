"""Jinja rendering of operator fields; Jinja is imported only when a field has a template."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from taskkit.authoring.context import Context


def has_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def render(value: Any, context: Context) -> Any:
    """Render every string inside `value` (recursing into lists, tuples and dicts).

    Values without `{{` or `{%` come back as the very same objects, so plain
    values cost nothing, never import Jinja, and callers can tell by identity
    whether anything was rendered. Undefined names fail loudly instead of
    rendering as empty strings, a classic Airflow surprise.
    """
    if isinstance(value, str):
        if not has_template(value):
            return value
        return _compile(value).render(context)
    if isinstance(value, (list, tuple)):
        items = [render(v, context) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        rendered = {k: render(v, context) for k, v in value.items()}
        if all(rendered[k] is v for k, v in value.items()):
            return value
        return rendered
    return value


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    return _environment().from_string(source)
