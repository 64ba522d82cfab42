"""Fixtures for metastore tests: a fresh database on SQLite and on PostgreSQL.

PostgreSQL comes from TASKKIT_TEST_PG_URL; each test gets its own schema
(through the URL's `options=-csearch_path=...`), so tests never see each
other and can run in parallel under pytest-xdist.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from taskkit.metastore import Metastore, RunRecord, init_db
from taskkit.metastore.engine import normalize_url
from taskkit.model.task import TaskSpec
from taskkit.states import RunType

PG_URL = os.environ.get("TASKKIT_TEST_PG_URL", "")

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not PG_URL,
                reason="set TASKKIT_TEST_PG_URL=postgresql+psycopg://user@host:port/db to run",
            ),
        ],
    ),
]

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema, dropped afterwards."""
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(normalize_url(PG_URL)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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


MakeRun = Callable[..., RunRecord]


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
