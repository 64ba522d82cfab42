"""Alembic environment: runs on the connection taskkit.metastore.migrate hands in.

There is no alembic.ini; `taskkit db init|upgrade` builds the Config in code
and passes an open connection (with taskkit's SQLite settings) through
`config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from taskkit.metastore.tables import metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        if not context.is_offline_mode() or url is None:
            raise RuntimeError(
                "Run migrations through `taskkit db upgrade` (taskkit.metastore.migrate)."
            )
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
    else:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
    with context.begin_transaction():
        context.run_migrations()


_run()
