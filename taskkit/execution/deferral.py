"""A try's deferral, both ways: TaskDeferred into stored text, stored text into resume arguments.

The trigger's arguments and the resume kwargs travel as tagged JSON (the
XCom format: never runs code when read), so the scheduler and the metastore
handle only text, and the triggerer rebuilds the trigger from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from taskkit import tagged_json
from taskkit.errors import TaskDeferred
from taskkit.model.results import Deferral


def deferral_of(deferred: TaskDeferred, now: dt.datetime) -> Deferral:
    """What the scheduler stores for a try that raised TaskDeferred.

    Raises TypeError (failing the try, with this message) when the trigger
    or the kwargs cannot be stored.
    """
    trigger = deferred.trigger
    classpath, kwargs = trigger.serialize()  # type: ignore[attr-defined]
    if not isinstance(classpath, str) or "." not in classpath or not isinstance(kwargs, dict):
        raise TypeError(
            f"{type(trigger).__name__}.serialize() returned {(classpath, kwargs)!r}; return "
            "('package.module.ClassName', {keyword arguments})."
        )
    if classpath.startswith(("__main__.", "taskkit_dagfile_")):  # scheduling/dag_import.py
        raise TypeError(
            f"Trigger class {classpath} is defined in the DAG file; the triggerer imports "
            "triggers by class path: move it to a module of its own (the DAGs folder is on "
            "the triggerer's import path)."
        )
    return Deferral(
        classpath=classpath,
        kwargs=_encode(kwargs, f"the arguments of trigger {classpath}"),
        next_method=deferred.method_name,
        next_kwargs=_encode(deferred.kwargs or {}, "defer(kwargs=...)"),
        timeout_at=None if deferred.timeout is None else now + deferred.timeout,
    )


def resume_kwargs(next_kwargs: str | None) -> dict[str, Any]:
    """The keyword arguments a resumed try's method receives (the event's payload included)."""
    if not next_kwargs:
        return {}
    value = tagged_json.loads(next_kwargs.encode())
    if not isinstance(value, dict):
        raise TypeError(f"stored resume arguments are not a mapping: {value!r}")
    return value


def _encode(value: dict[str, Any], what: str) -> str:
    try:
        return tagged_json.dumps(value).decode()
    except tagged_json.UnsupportedValueError as exc:
        raise TypeError(
            f"{what} cannot be stored: {exc.path} is a {exc.type_name}; pass values tagged "
            "JSON holds (str, numbers, lists, dicts, datetimes, ...)."
        ) from None
