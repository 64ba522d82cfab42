"""Rebuilding a stored trigger and running it to its first event: the triggerer and DAG.test().

Both run a trigger the same way, so a trigger that works in DAG.test() works
in the triggerer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import traceback
from typing import Any

from taskkit import tagged_json
from taskkit.errors import TaskkitError
from taskkit.model.results import DEFERRAL_TIMEOUT
from taskkit.triggers.base import BaseTrigger

#: At most this much of a trigger's traceback is stored with its error.
MAX_ERROR_CHARS = 4000


class TriggerLoadError(TaskkitError):
    """A stored trigger cannot be rebuilt: its class is not importable or rejects its arguments."""


def build_trigger(classpath: str, kwargs: str) -> BaseTrigger:
    """The trigger a row describes, rebuilt from its class path and tagged-JSON arguments."""
    module_name, _, class_name = classpath.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise TriggerLoadError(
            f"Cannot import trigger class {classpath}: {exc}. Triggers must live in a module "
            "the triggerer can import (installed, or in the DAGs folder)."
        ) from None
    arguments = tagged_json.loads(kwargs.encode())
    if not isinstance(arguments, dict):
        raise TriggerLoadError(f"Trigger {classpath}: stored arguments are not a mapping.")
    try:
        trigger: BaseTrigger = cls(**arguments)
    except Exception as exc:
        raise TriggerLoadError(
            f"Trigger {classpath} rejects its stored arguments: {type(exc).__name__}: {exc}"
        ) from None
    return trigger


async def first_event(trigger: BaseTrigger) -> Any:
    """Run a trigger until its first event; its payload. Raises what the trigger raises."""
    try:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError(f"{type(trigger).__name__}.run() ended without yielding an event")
    finally:
        await trigger.cleanup()


def run_inline(
    classpath: str, kwargs: str, timeout_at: dt.datetime | None
) -> tuple[str | None, str | None]:
    """Run a stored trigger to its first event here (DAG.test()): (event, None) or (None, error).

    Past `timeout_at` the error is the deferral timeout's, as in the scheduler.
    """
    try:
        trigger = build_trigger(classpath, kwargs)
        left = None
        if timeout_at is not None:
            left = max((timeout_at - dt.datetime.now(dt.timezone.utc)).total_seconds(), 0.0)
        payload = asyncio.run(asyncio.wait_for(first_event(trigger), left))
    except TimeoutError:
        return None, DEFERRAL_TIMEOUT
    except TriggerLoadError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, describe(exc)
    return tagged_json.dumps(payload).decode(), None


def describe(exc: BaseException) -> str:
    """A failed trigger's error: its one line, then its traceback (capped)."""
    lines = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}\n{lines}"[:MAX_ERROR_CHARS]
