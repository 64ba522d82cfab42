"""Checks on names people type: run ids, pool names, usernames. One clear message each."""

from __future__ import annotations

import re

from taskkit.errors import InvalidInputError

#: Run ids and pool names end up in URLs, log paths and shell commands: keep them plain.
_RUN_ID = re.compile(r"[A-Za-z0-9_.:+\-]+")
_POOL_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_USERNAME = re.compile(r"[A-Za-z0-9_.@\-]+")
MAX_RUN_ID = 250
MAX_POOL_NAME = 256
MAX_USERNAME = 64


def _check(kind: str, value: str, pattern: re.Pattern[str], longest: int, allowed: str) -> str:
    if not value or not value.strip():
        raise InvalidInputError(f"A {kind} must not be empty.")
    if len(value) > longest:
        raise InvalidInputError(
            f"The {kind} {value[:40]!r}... is {len(value)} characters long; "
            f"at most {longest} are allowed."
        )
    if not pattern.fullmatch(value):
        raise InvalidInputError(
            f"The {kind} {value!r} has characters that are not allowed; use only {allowed}."
        )
    return value


def check_run_id(run_id: str) -> str:
    """A run id: up to 250 letters, digits and `_ . : + -` (ISO dates fit)."""
    return _check("run id", run_id, _RUN_ID, MAX_RUN_ID, "letters, digits and _ . : + -")


def check_pool_name(name: str) -> str:
    """A pool name: up to 256 letters, digits and `_ . -`."""
    return _check("pool name", name, _POOL_NAME, MAX_POOL_NAME, "letters, digits and _ . -")


def check_username(name: str) -> str:
    """A username: up to 64 letters, digits and `_ . @ -`."""
    return _check("username", name, _USERNAME, MAX_USERNAME, "letters, digits and _ . @ -")
