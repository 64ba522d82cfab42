"""`taskkit pools`: list, set, delete, import and export pools."""

from __future__ import annotations

from pathlib import Path

import click

from taskkit.cli import context, params
from taskkit.cli.output import emit, output_option
from taskkit.services import pools as services


@click.group()
def pools() -> None:
    """Manage pools: named slot budgets shared by tasks."""


@pools.command("list")
@output_option
def list_pools(output: str) -> None:
    """Every pool with its slots and the slots its running and queued tasks hold."""
    config = context.settings()
    with context.open_store(config) as store:
        records = store.list_pools()
    rows = [
        {
            "name": p.name,
            "slots": p.slots,
            "description": p.description,
            "running": p.running,
            "queued": p.queued,
            "deferred": p.deferred,
            "include_deferred": p.include_deferred,
            "open_slots": p.open_slots,
        }
        for p in records
    ]
    columns = ["name", "slots", "running", "queued", "deferred", "include_deferred", "description"]
    emit(rows, columns, output, "No pools.")


# ignore_unknown_options lets "-1" reach SLOTS, so it gets a clear error instead of "no option".
@pools.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name", type=params.POOL_NAME)
@click.argument("slots", type=int)
@click.argument("description", required=False)
@click.option(
    "--include-deferred/--exclude-deferred",
    default=None,
    help="Whether deferred tasks hold their slots of this pool (new pools: they do not).",
)
def set_pool(name: str, slots: int, description: str | None, include_deferred: bool | None) -> None:
    """Create pool NAME with SLOTS slots, or change its slots (and DESCRIPTION)."""
    config = context.settings()
    with context.open_store(config) as store:
        services.set_pool(store, name, slots, description, include_deferred=include_deferred)
    held = {True: "; deferred tasks hold its slots", False: "; deferred tasks hold no slot"}
    note = "" if include_deferred is None else held[include_deferred]
    click.echo(f"Pool {name!r} has {slots} slots{note}.")


@pools.command()
@click.argument("name", type=params.POOL_NAME)
def delete(name: str) -> None:
    """Delete pool NAME (default_pool cannot be deleted)."""
    config = context.settings()
    with context.open_store(config) as store:
        services.delete_pool(store, name)
    click.echo(f"Deleted pool {name!r}.")


@pools.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_pools(file: Path) -> None:
    """Create or update the pools in FILE.json ({"name": {"slots": N, "description": ...}})."""
    services.read_pools_file(file)  # a bad file fails before the metastore is opened
    config = context.settings()
    with context.open_store(config) as store:
        wanted = services.import_pools(store, file)
    click.echo(f"Imported {len(wanted)} pools: {', '.join(wanted) or 'none'}.")


@pools.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def export_pools(file: Path) -> None:
    """Write every pool to FILE.json in the format `pools import` reads."""
    config = context.settings()
    with context.open_store(config) as store:
        count = services.export_pools(store, file)
    click.echo(f"Exported {count} pools to {file}.")
