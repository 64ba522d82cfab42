"""Schema creation, upgrade, reset and checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from taskkit.metastore import Metastore, check_db, init_db, reset_db, upgrade_db
from taskkit.metastore.migrate import head_revision
from taskkit.metastore.tables import SCHEMA_REVISION, metadata


def test_schema_revision_is_the_scripts_head() -> None:
    """The revision the code checks for is the newest packaged Alembic revision."""
    assert head_revision() == SCHEMA_REVISION


def test_migrations_produce_exactly_the_models_schema(metastore: Metastore) -> None:
    """Running the migrations yields the schema the models describe: autogenerate sees no diff."""
    with metastore.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_check_db_reports_uninitialised_then_up_to_date(db_url: str) -> None:
    """check_db sees no revision before init and the head revision after it."""
    before = check_db(db_url)
    assert before.reachable
    assert before.current_revision is None
    assert not before.up_to_date
    init_db(db_url)
    after = check_db(db_url)
    assert after.up_to_date
    assert after.current_revision == SCHEMA_REVISION


def test_check_db_reports_an_unreachable_database(tmp_path: Path) -> None:
    """check_db reports a database it cannot reach instead of raising."""
    (tmp_path / "a_file").write_text("")
    for url in (f"sqlite:///{tmp_path / 'a_file' / 'x.db'}", "postgresql://nobody@127.0.0.1:1/x"):
        status = check_db(url)
        assert not status.reachable
        assert status.error


def test_init_is_idempotent_and_keeps_default_pool_slots(db_url: str) -> None:
    """Running init twice is harmless, and a second init does not resize default_pool."""
    init_db(db_url, default_pool_slots=5)
    with Metastore.open(db_url) as store:
        store.set_pool("default_pool", 9)
    init_db(db_url, default_pool_slots=5)
    upgrade_db(db_url)
    with Metastore.open(db_url) as store:
        assert store.get_pool_slots() == {"default_pool": 9}


def test_reset_drops_data_and_recreates_the_schema(metastore: Metastore, db_url: str) -> None:
    """reset_db leaves a fresh schema: only default_pool, with the slots given."""
    metastore.set_pool("db", 3)
    metastore.dispose()
    reset_db(db_url, default_pool_slots=11)
    with Metastore.open(db_url) as store:
        assert store.get_pool_slots() == {"default_pool": 11}


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_use_psycopg3(scheme: str) -> None:
    """postgres:// and postgresql:// URLs are pointed at the psycopg 3 driver."""
    from taskkit.metastore.engine import normalize_url

    assert normalize_url(f"{scheme}://u@h/db").drivername == "postgresql+psycopg"


def test_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    """The SQLite file is created 0600 (with its directory) and opened in WAL mode."""
    path = tmp_path / "new" / "dir" / "taskkit.db"
    url = f"sqlite:///{path}"
    init_db(url)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Metastore.open(url) as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_upgrading_to_mapping_keeps_rows_as_unmapped_instances(db_url: str) -> None:
    """Task instances and XComs stored before revision 0005 come out with map_index -1."""
    from alembic import command

    from taskkit.metastore.engine import WRITE_OPTION, create_engine_for
    from taskkit.metastore.migrate import alembic_config

    engine = create_engine_for(db_url)
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                command.upgrade(alembic_config(connection), "0002")
                connection.execute(
                    text(
                        "INSERT INTO xcom (dag_id, run_id, task_id, key, value, encoding, "
                        "created_at) VALUES ('d', 'r', 't', 'return_value', :v, 'json', "
                        "CURRENT_TIMESTAMP)"
                    ),
                    {"v": b"[1]"},
                )
            with connection.begin():
                command.upgrade(alembic_config(connection), "head")
            row = connection.execute(text("SELECT map_index, length FROM xcom")).one()
    finally:
        engine.dispose()
    assert tuple(row) == (-1, None)
    store = Metastore.open(db_url)
    try:
        (record,) = store.get_xcoms("d", "r")
        assert (record.map_index, record.value) == (-1, b"[1]")
    finally:
        store.dispose()


def test_revision_0013_adds_specs_that_older_versions_lack_and_downgrades(db_url: str) -> None:
    """A version stored before revision 0013 keeps its payload and has no spec (no user code
    runs in a migration); downgrading drops the specs and keeps the versions."""
    from alembic import command

    from taskkit.metastore.engine import WRITE_OPTION, create_engine_for
    from taskkit.metastore.migrate import alembic_config

    engine = create_engine_for(db_url)
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                command.upgrade(alembic_config(connection), "0012")
                connection.execute(
                    text(
                        "INSERT INTO dag (dag_id, fileloc, is_active, is_paused, tags, updated_at)"
                        " VALUES ('d', '/d.py', true, false, '[]', CURRENT_TIMESTAMP)"
                    )
                )
                connection.execute(
                    text(
                        "INSERT INTO dag_version (dag_id, version_number, content_hash, "
                        "signature, payload, fileloc, created_at) VALUES ('d', 1, 'h', 's', :p,"
                        " '/d.py', CURRENT_TIMESTAMP)"
                    ),
                    {"p": b"payload"},
                )
            with connection.begin():
                command.upgrade(alembic_config(connection), "head")
                upgraded = connection.execute(
                    text("SELECT payload, spec, spec_signature FROM dag_version")
                ).one()
            with connection.begin():
                command.downgrade(alembic_config(connection), "0012")
                columns = connection.execute(text("SELECT * FROM dag_version")).keys()
                downgraded = connection.execute(text("SELECT payload FROM dag_version")).scalar()
            with connection.begin():
                command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()
    assert tuple(upgraded) == (b"payload", None, None)
    assert "spec" not in columns and "spec_signature" not in columns
    assert downgraded == b"payload"
    assert check_db(db_url).up_to_date
