"""Fixtures for end-to-end scheduler tests: an isolated home on SQLite and PostgreSQL.

`home` runs on each database with the Local executor; `any_home` runs on
each database with each executor, for behaviour both executors must share.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from databases import DATABASES, pg_schema
from harness import Home

EXECUTORS = ["local", "sequential"]


def _make_home(database: str, executor: str, tmp_path: Path) -> Iterator[Home]:
    with ExitStack() as stack:
        path = tmp_path / "home"
        if database == "sqlite":
            url = f"sqlite:///{path / 'taskkit.db'}"
        else:
            url = stack.enter_context(pg_schema())
        home = Home.create(path, url, executor)
        stack.callback(home.close)
        yield home


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """Which metastore backend a test runs on."""
    return str(request.param)


@pytest.fixture
def home(database: str, tmp_path: Path) -> Iterator[Home]:
    """An initialised TASKKIT_HOME on each database, with the Local executor."""
    yield from _make_home(database, "local", tmp_path)


@pytest.fixture(params=EXECUTORS)
def any_home(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Home]:
    """An initialised TASKKIT_HOME on each database, with each executor."""
    yield from _make_home(database, str(request.param), tmp_path)
