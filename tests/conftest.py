"""Shared fixtures: an empty database on SQLite and on PostgreSQL, an initialised metastore,
and a run in it (`make_run`).

PostgreSQL comes from TASKKIT_TEST_PG_URL; each test gets its own schema
(through the URL's `options=-csearch_path=...`), so tests never see each
other and can run in parallel under pytest-xdist.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from databases import DATABASES, pg_schema

from taskkit.metastore import Metastore, RunRecord, init_db
from taskkit.model.task import TaskSpec
from taskkit.states import RunType

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
MakeRun = Callable[..., RunRecord]


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


@pytest.fixture
def make_run(metastore: Metastore) -> MakeRun:
    """Create a manual run of DAG `dag_id` with the given task specs (default: tasks a, b)."""

    def make(
        run_id: str = "run1",
        tasks: list[TaskSpec] | None = None,
        *,
        dag_id: str = "etl",
        logical_date: dt.datetime = T0,
        run_type: RunType = RunType.MANUAL,
    ) -> RunRecord:
        saved = metastore.save_dag_version(dag_id, f"/dags/{dag_id}.py", b"payload", "h1", "s1")
        specs = tasks if tasks is not None else [TaskSpec("a"), TaskSpec("b")]
        return metastore.create_run(
            dag_id,
            run_id,
            logical_date,
            run_type=run_type,
            dag_version_id=saved.version_id,
            tasks=specs,
        )

    return make


# -- CI guard: PostgreSQL, Celery and browser tests must run, not skip ---------------------

#: marker -> (the variable that requires it, what to check when none ran)
_REQUIRED = {
    "postgres": (
        "TASKKIT_REQUIRE_PG",
        "no PostgreSQL test ran (is TASKKIT_TEST_PG_URL set and the server up?)",
    ),
    "celery": (
        "TASKKIT_REQUIRE_CELERY",
        "no Celery test ran (are Redis on 127.0.0.1:6379, RabbitMQ on 127.0.0.1:5672 and "
        "PostgreSQL from TASKKIT_TEST_PG_URL up, and is taskkit[celery] installed?)",
    ),
    "browser": (
        "TASKKIT_REQUIRE_BROWSER",
        "no browser test ran (is Chromium at /usr/bin/chromium and playwright installed?)",
    ),
}
_ran: dict[str, int] = dict.fromkeys(_REQUIRED, 0)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the PostgreSQL-, Celery- and browser-marked tests that got to their call phase."""
    if report.when == "call":
        for marker in _REQUIRED:
            if marker in report.keywords:
                _ran[marker] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With TASKKIT_REQUIRE_PG=1 / TASKKIT_REQUIRE_CELERY=1 (set by .ci/run), fail a run
    where no test of that kind ran."""
    if hasattr(session.config, "workerinput"):
        return
    for marker, (variable, problem) in _REQUIRED.items():
        if os.environ.get(variable) != "1" or _ran[marker]:
            continue
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"FAILED: {variable}=1 but {problem}", red=True)
