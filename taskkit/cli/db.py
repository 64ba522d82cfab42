"""`taskkit db`: create, upgrade, reset and check the metastore schema."""

from __future__ import annotations

import click

from taskkit.cli import context
from taskkit.errors import (
    MetastoreError,
    MetastoreNotInitializedError,
    SchedulerAlreadyRunningError,
)


def _shown_url(url: str) -> str:
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore.engine import normalize_url

    return normalize_url(url).render_as_string(hide_password=True)


@click.group()
def db() -> None:
    """Create, upgrade, reset and check the metastore."""


@db.command()
def init() -> None:
    """Create the schema (or upgrade it to the newest revision) and default_pool."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore import init_db

    config = context.settings()
    url = config.database.sql_alchemy_conn
    init_db(url, config.core.default_pool_task_slot_count)
    click.echo(f"Initialised the metastore at {_shown_url(url)}.")


@db.command()
def upgrade() -> None:
    """Upgrade the schema to the newest revision."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore import upgrade_db

    url = context.settings().database.sql_alchemy_conn
    upgrade_db(url)
    click.echo(f"Upgraded the metastore at {_shown_url(url)}.")


@db.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Reset even while a scheduler is running.")
def reset(yes: bool, force: bool) -> None:
    """Drop every taskkit table (runs, history, pools) and create them afresh.

    Refused while a scheduler holds the metastore, unless --force.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore import reset_db

    config = context.settings()
    url = config.database.sql_alchemy_conn
    if not force:
        _refuse_while_scheduling(url)
    if not yes:
        click.confirm(f"Drop all taskkit data in {_shown_url(url)}?", abort=True, err=True)
    reset_db(url, config.core.default_pool_task_slot_count)
    click.echo(f"Reset the metastore at {_shown_url(url)}.")


def _refuse_while_scheduling(url: str) -> None:
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore.engine import create_engine_for
    from taskkit.metastore.lease import lease_holder

    engine = create_engine_for(url)
    try:
        holder = lease_holder(engine)
    except Exception:  # an unreachable or empty database has no scheduler to protect
        holder = None
    finally:
        engine.dispose()
    if holder is not None:
        raise SchedulerAlreadyRunningError(
            f"Refusing to reset {_shown_url(url)}: {holder} is using it. Stop that scheduler "
            "first, or pass --force to reset anyway (the scheduler will then fail)."
        )


@db.command()
def check() -> None:
    """Check that the metastore is reachable and its schema is up to date."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore import check_db

    status = check_db(context.settings().database.sql_alchemy_conn)
    where = _shown_url(status.url)
    if not status.reachable:
        raise MetastoreError(f"Cannot reach the metastore at {where}: {status.error}")
    if status.current_revision is None:
        raise MetastoreNotInitializedError(
            f"The metastore at {where} is not initialised: run `taskkit db init`."
        )
    if not status.up_to_date:
        raise MetastoreNotInitializedError(
            f"The metastore at {where} is at revision {status.current_revision!r}, not "
            f"{status.head_revision!r}: run `taskkit db upgrade`."
        )
    click.echo(f"OK: {where} is reachable and at revision {status.head_revision}.")
