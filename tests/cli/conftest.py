"""CLI fixtures: TASKKIT_HOME in a temporary folder, an initialised metastore, a CliRunner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from cli_harness import Cli


def _make_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str | None) -> Cli:
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    for var in list(os.environ):
        if var.startswith("TASKKIT__"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("TASKKIT_HOME", str(home))
    monkeypatch.setenv("TASKKIT__SCHEDULER__PARSING_TIMEOUT", "10")
    if url is not None:
        monkeypatch.setenv("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", url)
    return Cli(home)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """The CLI configures structlog; leave it as other tests expect it."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def bare_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A CLI on an empty TASKKIT_HOME with the default SQLite URL, not initialised."""
    return _make_cli(tmp_path, monkeypatch, None)


@pytest.fixture
def cli_sqlite(bare_cli: Cli) -> Cli:
    """A CLI whose SQLite metastore has been initialised with `taskkit db init`."""
    bare_cli.ok("db", "init")
    return bare_cli


@pytest.fixture
def cli_any_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Cli:
    """A CLI whose metastore (SQLite, then PostgreSQL) has been initialised with `db init`."""
    runner = _make_cli(tmp_path, monkeypatch, db_url)
    runner.ok("db", "init")
    return runner
