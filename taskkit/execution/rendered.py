"""A try's rendered template fields as JSON-ready values, each capped, for the panel and API.

The try renders its fields anyway (runtime.execute_try); this turns what it
rendered into what the scheduler stores (Airflow's
rendered_task_instance_fields) and DAG.test() reports. As in Airflow,
containers keep their shape with primitive leaves, callables show their
qualified name, other objects their str(); a value whose JSON is longer than
MAX_FIELD_CHARS is replaced by a string that says it was cut. As in Airflow, secrets
are masked before anything leaves the try: every registered secret (a connection's
password, a sensitive variable's value) and the value under a sensitive-looking key
(`password`, `api_key`, ...) shows as `***`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from taskkit.authoring.masking import MASK, redact, should_mask

#: As Airflow's [core] max_templated_field_length default.
MAX_FIELD_CHARS = 4096
TRUNCATED = "Truncated: the rendered value has {size:,} characters; the first {shown:,} follow. "


def rendered_fields(task: Any) -> dict[str, Any]:
    """The operator's template fields that hold something, JSON-ready and capped, by name."""
    shown: dict[str, Any] = {}
    for name in task.template_fields:
        value = getattr(task, name, None)
        if value is None or (isinstance(value, (str, list, tuple, dict)) and not value):
            continue
        shown[name] = capped(_plain(value))
    return shown


def capped(value: Any) -> Any:
    """`value` itself when its JSON fits in MAX_FIELD_CHARS, else a string saying it was cut."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) <= MAX_FIELD_CHARS:
        return value
    note = TRUNCATED.format(size=len(text), shown=MAX_FIELD_CHARS)
    return note + text[:MAX_FIELD_CHARS] + "..."


def _plain(value: Any) -> Any:
    """A JSON-encodable copy: dict keys as strings, tuples and sets as lists."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {
            str(_plain(k)): MASK if should_mask(str(k)) and v else _plain(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=lambda x: (type(x).__name__, str(x)))
    if callable(value):
        module = getattr(value, "__module__", None) or ""
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"<callable {module}.{name}>" if module else f"<callable {name}>"
    return redact(str(value))
