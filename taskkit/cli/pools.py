"""`taskkit pools`: list, set, delete, import and export pools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from taskkit import validation
from taskkit.cli import context, params
from taskkit.cli.output import emit, output_option
from taskkit.errors import PoolError, TaskkitError


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
            "open_slots": p.open_slots,
        }
        for p in records
    ]
    emit(rows, ["name", "slots", "running", "queued", "description"], output, "No pools.")


# ignore_unknown_options lets "-1" reach SLOTS, so it gets a clear error instead of "no option".
@pools.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name", type=params.POOL_NAME)
@click.argument("slots", type=int)
@click.argument("description", required=False)
def set_pool(name: str, slots: int, description: str | None) -> None:
    """Create pool NAME with SLOTS slots, or change its slots (and DESCRIPTION)."""
    config = context.settings()
    with context.open_store(config) as store:
        store.set_pool(name, slots, description)
    click.echo(f"Pool {name!r} has {slots} slots.")


@pools.command()
@click.argument("name", type=params.POOL_NAME)
def delete(name: str) -> None:
    """Delete pool NAME (default_pool cannot be deleted)."""
    config = context.settings()
    with context.open_store(config) as store:
        store.delete_pool(name)
    click.echo(f"Deleted pool {name!r}.")


def read_pools_file(path: Path) -> dict[str, tuple[int, str | None]]:
    """Validate a pools file: {"name": {"slots": N, "description": "..."}}; all or nothing."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PoolError(f"Cannot read pools file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise PoolError(f"Pools file {path} is not UTF-8 text; expected a JSON object.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PoolError(f"Pools file {path} is not valid JSON: {exc}.") from None
    if not isinstance(document, dict):
        raise PoolError(
            f'Pools file {path} must hold a JSON object: {{"name": {{"slots": 4, '
            '"description": "..."}}.'
        )
    found: dict[str, tuple[int, str | None]] = {}
    for name, entry in document.items():
        slots = entry.get("slots") if isinstance(entry, dict) else None
        description = entry.get("description") if isinstance(entry, dict) else None
        try:
            found[validation.pool_name(name)] = (
                validation.slots(name, slots),
                validation.text(f"Pool {name!r}'s description", description),
            )
        except TaskkitError as exc:
            raise PoolError(f"In pools file {path}: {exc}") from None
    return found


@pools.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_pools(file: Path) -> None:
    """Create or update the pools in FILE.json ({"name": {"slots": N, "description": ...}})."""
    wanted = read_pools_file(file)
    config = context.settings()
    with context.open_store(config) as store:
        for name, (slots, description) in wanted.items():
            store.set_pool(name, slots, description)
    click.echo(f"Imported {len(wanted)} pools: {', '.join(wanted) or 'none'}.")


@pools.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def export_pools(file: Path) -> None:
    """Write every pool to FILE.json in the format `pools import` reads."""
    config = context.settings()
    with context.open_store(config) as store:
        records = store.list_pools()
    document = {p.name: {"slots": p.slots, "description": p.description or ""} for p in records}
    try:
        file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise PoolError(f"Cannot write pools file {file}: {exc.strerror}.") from None
    click.echo(f"Exported {len(document)} pools to {file}.")
