"""`taskkit assets`: the assets DAGs name and the events recorded for them."""

from __future__ import annotations

import json

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option

#: The most events `assets events` prints (services.assets.MAX_EVENTS, kept literal so
#: `taskkit --help` imports no service).
_MAX_EVENTS = 1000


@click.group()
def assets() -> None:
    """Show assets (data-aware scheduling): who produces them, who waits on them, their events."""


@assets.command("list")
@output_option
def list_assets(output: str) -> None:
    """Every asset a DAG's schedule or a task's outlets name."""
    from taskkit.services import assets as service

    config = context.settings()
    with context.open_store(config) as store:
        rows = service.list_assets(store)
    shown = [
        {
            **row,
            "producing_dags": ",".join(row["producing_dags"]),
            "consuming_dags": ",".join(row["consuming_dags"]),
        }
        for row in rows
    ]
    emit(
        rows if output == "json" else shown,
        ["uri", "group", "producing_dags", "consuming_dags", "events", "last_event_at"],
        output,
        "No assets.",
    )


@assets.command("events")
@click.option("--uri", help="Only the events of this asset.")
@click.option(
    "--limit",
    type=click.IntRange(1, _MAX_EVENTS),
    default=100,
    show_default=True,
    help="At most this many events, newest first.",
)
@output_option
def list_events(uri: str | None, limit: int, output: str) -> None:
    """The latest asset events: which task updated which asset, when, with what extra."""
    from taskkit.services import assets as service

    config = context.settings()
    with context.open_store(config) as store:
        rows = service.list_asset_events(store, uri, limit)
    shown = [{**row, "extra": json.dumps(row["extra"])} for row in rows]
    emit(
        rows if output == "json" else shown,
        ["id", "uri", "timestamp", "source_dag_id", "source_run_id", "source_task_id", "extra"],
        output,
        "No asset events.",
    )
