"""The Metastore itself: it checks the schema as it opens, closes, and pings idle connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from databases import POSTGRES_ONLY
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from taskkit.errors import MetastoreError, MetastoreNotInitializedError
from taskkit.metastore import Metastore, RunRecord, TIChange, init_db
from taskkit.metastore import engine as engine_module
from taskkit.metastore.tables import SCHEMA_REVISION
from taskkit.metastore.units import driver_errors
from taskkit.model.keys import TaskInstanceKey
from taskkit.states import State

MakeRun = Callable[..., RunRecord]


def test_opening_an_empty_database_says_to_run_db_init(db_url: str) -> None:
    """A database without taskkit's schema is refused with the command that creates it."""
    with pytest.raises(
        MetastoreNotInitializedError, match=r"not initialised: run `taskkit db init`"
    ):
        Metastore.open(db_url)


def test_opening_an_older_schema_names_both_revisions_and_says_to_upgrade(db_url: str) -> None:
    """A schema at another revision is refused, naming it, this code's revision and the fix."""
    init_db(db_url)
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    with pytest.raises(MetastoreNotInitializedError) as info:
        Metastore.open(db_url)
    message = str(info.value)
    assert "'0001'" in message and repr(SCHEMA_REVISION) in message
    assert message.endswith("run `taskkit db upgrade`.")


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    """A server that does not answer is a MetastoreError naming the URL, password hidden."""
    url = "postgresql+psycopg://taskkit:s3cret@127.0.0.1:1/taskkit?connect_timeout=2"
    with pytest.raises(MetastoreError, match="Cannot reach the metastore at") as info:
        Metastore.open(url)
    assert "s3cret" not in str(info.value)
    assert "\n" not in str(info.value)


def test_an_initialised_store_opens_and_closes_as_a_context_manager(db_url: str) -> None:
    """After `db init` the store opens, answers, and gives its connections back on exit."""
    init_db(db_url, default_pool_slots=7)
    with Metastore.open(db_url) as store:
        assert store.get_pool_slots() == {"default_pool": 7}
    with Metastore.open(db_url) as again:  # nothing was left locked or half-open
        again.set_pool("db", 2)
        assert again.get_pool_slots() == {"db": 2, "default_pool": 7}


def _count_pings(store: Metastore, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    dialect = store.engine.dialect
    real_ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


def _drop_pooled_connection(metastore: Metastore, db_url: str) -> int:
    """Have the server end the store's pooled connection (as a restart would); its backend."""
    with metastore.engine.connect() as connection:
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(db_url)
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    admin.dispose()
    return int(backend)


@POSTGRES_ONLY
def test_a_connection_the_server_dropped_while_it_was_idle_is_replaced_without_an_error(
    metastore: Metastore, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection the server ended (a restart, a killed backend) costs no error."""
    backend = _drop_pooled_connection(metastore, db_url)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # it has been idle long enough
    assert metastore.get_pool_slots() == {"default_pool": 128}
    with metastore.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != backend


@POSTGRES_ONLY
def test_a_connection_in_use_a_moment_ago_goes_to_work_without_a_ping(
    metastore: Metastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's back-to-back transactions pay no extra round trip for a ping."""
    pings = _count_pings(metastore, monkeypatch)
    for _ in range(3):
        metastore.get_pool_slots()
    assert pings == []
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    metastore.get_pool_slots()
    assert len(pings) == 1


@POSTGRES_ONLY
def test_a_connection_dropped_a_moment_ago_fails_one_write_as_the_scheduler_retries_it(
    metastore: Metastore, db_url: str, make_run: MakeRun
) -> None:
    """Not pinged, it fails its write with SQLAlchemy's OperationalError (which the scheduler
    retries with a backoff), never a driver's own exception; the next write goes through."""
    make_run()
    _drop_pooled_connection(metastore, db_url)
    change = TIChange(TaskInstanceKey("etl", "run1", "a"), State.NONE, state=State.SCHEDULED)
    with pytest.raises(OperationalError):
        metastore.transition_task_instances([change])
    assert metastore.transition_task_instances([change]) == [True]


def test_a_statement_run_straight_on_the_driver_fails_with_sqlalchemys_error(
    metastore: Metastore,
) -> None:
    """The scheduler's pipelines and batches bypass SQLAlchemy; their errors still come as
    SQLAlchemy's own, which is what the scheduler's retry of a failed write catches."""
    with metastore.engine.connect() as connection:
        cursor = connection.connection.cursor()
        with pytest.raises(DBAPIError) as info, driver_errors(connection):
            cursor.execute("SELECT * FROM no_such_table")
        assert "no_such_table" in str(info.value.orig)
