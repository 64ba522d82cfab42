"""Rules for the names and numbers users type: run ids, DAG and task ids, pool names, slots,
usernames.

The one place, called wherever a value enters (the CLI's parameter types, the
services the REST API and the UI call, the metastore's write methods, DAG
definitions), so every entry point refuses the same things with the same
one-line message. The rules are Airflow's: run ids `^[A-Za-z0-9_.~:+-]+$`,
ids and pool names `^[A-Za-z0-9_.-]+$`, at most 250 characters; usernames
`^[A-Za-z0-9_.@-]+$`, at most 64; slot counts fit the metastore's 32-bit
integer columns (as Airflow's do), other numbers a signed 64-bit one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from taskkit.errors import InvalidNameError, PoolError

MAX_NAME_LENGTH = 250
MAX_USERNAME_LENGTH = 64
INT64_MAX = 2**63 - 1
#: Pool slots and a task's pool_slots are INTEGER columns, as in Airflow.
MAX_SLOTS = 2**31 - 1
_RUN_ID = re.compile(r"[A-Za-z0-9_.~:+-]+")
_KEY = re.compile(r"[A-Za-z0-9_.-]+")
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]+")


def _shown(value: str) -> str:
    """The value as it can be shown on one line: repr, and cut when long."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...' ({len(value)} characters)"


def _check(
    kind: str,
    value: object,
    pattern: re.Pattern[str],
    allowed: str,
    longest: int = MAX_NAME_LENGTH,
) -> str:
    if not isinstance(value, str):
        raise InvalidNameError(f"{kind} must be a string, not {type(value).__name__}.")
    if not value:
        raise InvalidNameError(f"{kind} must not be empty.")
    if len(value) > longest or not pattern.fullmatch(value):
        raise InvalidNameError(
            f"{kind} {_shown(value)} is not valid: use at most {longest} of "
            f"letters, digits and {allowed}."
        )
    return value


def run_id(value: object) -> str:
    """A valid run id, else InvalidNameError."""
    return _check("Run id", value, _RUN_ID, "_ . ~ : + -")


def dag_id(value: object) -> str:
    """A valid DAG id, else InvalidNameError."""
    return _check("DAG id", value, _KEY, "_ . -")


def task_id(value: object) -> str:
    """A valid task id, else InvalidNameError."""
    return _check("Task id", value, _KEY, "_ . -")


def pool_name(value: object) -> str:
    """A valid pool name, else InvalidNameError."""
    return _check("Pool name", value, _KEY, "_ . -")


def username(value: object) -> str:
    """A valid username, else InvalidNameError."""
    return _check("Username", value, _USERNAME, "_ . @ -", MAX_USERNAME_LENGTH)


def variable_key(value: object) -> str:
    """A valid variable key, else InvalidNameError."""
    return _check("Variable key", value, _KEY, "_ . -")


def conn_id(value: object) -> str:
    """A valid connection id, else InvalidNameError."""
    return _check("Connection id", value, _KEY, "_ . -")


def slots(name: str, value: object) -> int:
    """A pool's slot count: a whole number from 0 to MAX_SLOTS, else PoolError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SLOTS:
        shown = _shown(value) if isinstance(value, str) else repr(value)[:60]
        raise PoolError(
            f"Pool {name!r} needs a whole number of slots from 0 to {MAX_SLOTS}, not {shown}."
        )
    return value


def text(kind: str, value: object, *, limit: int = 10_000) -> str | None:
    """Free text (a description): no NUL characters, at most `limit` characters."""
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value or len(value) > limit:
        raise InvalidNameError(
            f"{kind} must be text of at most {limit} characters without NUL characters."
        )
    return value


def conf(value: Mapping[str, Any] | None) -> None:
    """A run's conf: a JSON object PostgreSQL can store (no NUL characters), else an error."""
    if value is None:
        return
    try:
        json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidNameError(f"A run's conf must be a JSON object: {exc}.") from None
    if _has_nul(value):
        raise InvalidNameError("A run's conf must not contain NUL characters (\\u0000).")


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False
