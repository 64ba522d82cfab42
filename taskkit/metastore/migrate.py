"""Create, upgrade, reset and check the metastore schema with the Alembic scripts in the package.

No alembic.ini is needed: the Config is built here, pointing at
`taskkit/metastore/migrations`, and migrations run on a connection from
`create_engine_for`, so SQLite gets the same pragmas as at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from taskkit.metastore.engine import WRITE_OPTION, create_engine_for
from taskkit.metastore.records import DbStatus
from taskkit.metastore.store import Metastore
from taskkit.metastore.tables import SCHEMA_REVISION, VERSION_TABLE, current_revision, metadata
from taskkit.model.task import DEFAULT_POOL

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config for the packaged scripts, optionally bound to a connection."""
    # Lazy: alembic (~60 ms) is needed only to migrate, not by every process opening a store.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision among the packaged Alembic scripts."""
    # Lazy: see alembic_config.
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(engine: Engine) -> None:
    # Lazy: see alembic_config.
    from alembic import command

    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            command.upgrade(alembic_config(connection), "head")


def _ensure_default_pool(url: str | URL, default_pool_slots: int) -> None:
    with Metastore.open(url) as store:
        store.ensure_pool(DEFAULT_POOL, default_pool_slots, "Default pool")


def upgrade_db(url: str | URL) -> None:
    """Bring the schema to the newest revision; creates it on an empty database."""
    engine = create_engine_for(url)
    try:
        _upgrade(engine)
    finally:
        engine.dispose()


def init_db(url: str | URL, default_pool_slots: int = 128) -> None:
    """Create or upgrade the schema, then make sure default_pool exists.

    An existing default_pool keeps its slots: `pools set` owns them after init.
    """
    upgrade_db(url)
    _ensure_default_pool(url, default_pool_slots)


def reset_db(url: str | URL, default_pool_slots: int = 128) -> None:
    """Drop taskkit's tables and alembic_version (nothing else), then `init_db`."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                metadata.drop_all(connection, checkfirst=True)
                connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    finally:
        engine.dispose()
    init_db(url, default_pool_slots)


def check_db(url: str | URL) -> DbStatus:
    """Whether the database is reachable and at the revision this code expects."""
    shown = str(url) if isinstance(url, str) else url.render_as_string(hide_password=True)
    try:
        engine = create_engine_for(url)
    except Exception as exc:  # a bad URL is reported, not raised
        return DbStatus(shown, False, None, SCHEMA_REVISION, error=str(exc))
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except SQLAlchemyError as exc:
        return DbStatus(shown, False, None, SCHEMA_REVISION, error=str(exc).splitlines()[0])
    finally:
        engine.dispose()
    return DbStatus(shown, True, revision, SCHEMA_REVISION)
