"""Click parameter types that apply taskkit.validation, so bad names are usage errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from taskkit import validation
from taskkit.errors import TaskkitError


class _Validated(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A string checked by one of taskkit.validation's rules."""

    def __init__(self, name: str, check: Callable[[object], str]) -> None:
        self.name = name
        self.check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return self.check(value)
        except TaskkitError as exc:
            self.fail(str(exc), param, ctx)


RUN_ID = _Validated("run_id", validation.run_id)
DAG_ID = _Validated("dag_id", validation.dag_id)
TASK_ID = _Validated("task_id", validation.task_id)
POOL_NAME = _Validated("pool_name", validation.pool_name)
