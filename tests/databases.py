"""The databases tests run on: SQLite always, PostgreSQL from TASKKIT_TEST_PG_URL.

Each PostgreSQL user gets a new schema (through the URL's
`options=-csearch_path=...`), dropped afterwards, so tests never see each
other and can run in parallel.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from taskkit.metastore.engine import normalize_url

PG_URL = os.environ.get("TASKKIT_TEST_PG_URL", "")

#: Parameters for fixtures that run a test once per database.
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

#: For a test of what only PostgreSQL has (several schedulers, the critical section): its
#: `db_url` / `metastore` fixtures run on PostgreSQL alone, not skipped on SQLite.
POSTGRES_ONLY = pytest.mark.parametrize("db_url", DATABASES[1:], indirect=True)


@contextmanager
def pg_schema() -> Iterator[str]:
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
