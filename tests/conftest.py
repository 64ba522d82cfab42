"""Shared fixtures: an empty database on SQLite and on PostgreSQL, and an initialised metastore.

PostgreSQL comes from TASKKIT_TEST_PG_URL; each test gets its own schema
(through the URL's `options=-csearch_path=...`), so tests never see each
other and can run in parallel under pytest-xdist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import DATABASES, pg_schema

from taskkit.metastore import Metastore, init_db


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema, dropped afterwards."""
    with pg_schema() as url:
        yield url


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, uninitialised database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'taskkit.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def metastore(db_url: str) -> Iterator[Metastore]:
    """An initialised metastore (default_pool of 128 slots) on each database."""
    init_db(db_url, default_pool_slots=128)
    store = Metastore.open(db_url)
    yield store
    store.dispose()


# -- CI guard: PostgreSQL tests must run, not skip -----------------------------------------

_postgres_outcomes: dict[str, int] = {"passed": 0, "other": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count how the PostgreSQL-marked tests ended (their call phase)."""
    if report.when == "call" and "postgres" in report.keywords:
        _postgres_outcomes["passed" if report.passed else "other"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With TASKKIT_REQUIRE_PG=1 (set by .ci/run), a run where no PostgreSQL test ran fails."""
    if os.environ.get("TASKKIT_REQUIRE_PG") != "1" or hasattr(session.config, "workerinput"):
        return
    if _postgres_outcomes["passed"] + _postgres_outcomes["other"] == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "FAILED: TASKKIT_REQUIRE_PG=1 but no PostgreSQL test ran "
                "(is TASKKIT_TEST_PG_URL set and the server up?)",
                red=True,
            )
