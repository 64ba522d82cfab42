"""The Metastore itself: opening checks the schema once and says how to fix it; it closes."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from taskkit.errors import MetastoreError, MetastoreNotInitializedError
from taskkit.metastore import Metastore, init_db
from taskkit.metastore.tables import SCHEMA_REVISION


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
