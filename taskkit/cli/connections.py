"""`taskkit connections`: add, get, list, delete, import and export connections."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option

if TYPE_CHECKING:
    from taskkit.authoring.connections import Connection

_COLUMNS = ["conn_id", "conn_type", "host", "port", "schema", "login", "description"]


@click.group()
def connections() -> None:
    """Manage connections: how tasks reach other systems (Connection.get, {{ conn.id.host }})."""


@connections.command()
@click.argument("conn_id")
@click.option("--conn-uri", help="The whole connection as TYPE://LOGIN:PASSWORD@HOST:PORT/SCHEMA.")
@click.option("--conn-json", help='The connection as JSON: {"conn_type": ..., "host": ...}.')
@click.option("--conn-type", help="The connection type (postgres, http, ...).")
@click.option("--conn-host")
@click.option("--conn-login")
@click.option("--conn-password")
@click.option("--conn-schema")
@click.option("--conn-port", type=int)
@click.option("--conn-extra", help="Extra fields as a JSON object.")
@click.option("--conn-description")
def add(conn_id: str, conn_uri: str | None, conn_json: str | None, **fields: Any) -> None:
    """Add connection CONN_ID from --conn-uri, --conn-json or the separate --conn-* fields."""
    from taskkit.authoring.connections import Connection
    from taskkit.errors import ConflictError, ConnectionSpecError
    from taskkit.services import connections as service
    from taskkit.services.fernet import secret_box

    # --conn-host -> host, but --conn-type -> conn_type (the field's own name)
    given = {
        name if name == "conn_type" else name.removeprefix("conn_"): value
        for name, value in fields.items()
        if value is not None
    }
    if sum(x is not None for x in (conn_uri, conn_json)) + bool(given) > 1:
        raise ConnectionSpecError(
            "Give the connection one way only: --conn-uri, --conn-json, or --conn-* fields."
        )
    if conn_uri is not None:
        conn = Connection.from_uri(conn_uri, conn_id)
    elif conn_json is not None:
        conn = Connection.from_json(conn_json, conn_id)
    else:
        conn = Connection(conn_id=conn_id, **given)
    service.checked(conn)
    config = context.settings()
    with context.open_store(config) as store:
        box = secret_box(config)
        if service.find_connection(store, box, conn_id) is not None:
            raise ConflictError(
                f"A connection {conn_id!r} already exists; delete it first to replace it."
            )
        service.save_connection(store, box, conn)
    click.echo(f"Connection {conn_id!r} added.")


@connections.command("get")
@click.argument("conn_id")
@output_option
def get_connection(conn_id: str, output: str) -> None:
    """Show connection CONN_ID (its password as ***)."""
    from taskkit.services import connections as service
    from taskkit.services.fernet import secret_box

    config = context.settings()
    with context.open_store(config) as store:
        conn = service.get_connection(store, secret_box(config), conn_id)
    emit([_row(conn)], [*_COLUMNS, "password", "extra"], output, "")


@connections.command("list")
@output_option
def list_connections(output: str) -> None:
    """Every connection (passwords as ***)."""
    from taskkit.services import connections as service
    from taskkit.services.fernet import secret_box

    config = context.settings()
    with context.open_store(config) as store:
        found, _ = service.list_connections(store, secret_box(config))
    emit([_row(c) for c in found], _COLUMNS, output, "No connections.")


@connections.command()
@click.argument("conn_id")
def delete(conn_id: str) -> None:
    """Delete connection CONN_ID."""
    from taskkit.services import connections as service

    config = context.settings()
    with context.open_store(config) as store:
        service.delete_connection(store, conn_id)
    click.echo(f"Deleted connection {conn_id!r}.")


@connections.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_connections(file: Path) -> None:
    """Create or replace the connections in FILE.json, all or none ({"id": URI | {...}})."""
    from taskkit.services import connections as service
    from taskkit.services.fernet import secret_box

    service.read_connections_file(file)  # a bad file fails before the metastore is opened
    config = context.settings()
    with context.open_store(config) as store:
        ids = service.import_connections(store, secret_box(config), file)
    click.echo(f"Imported {len(ids)} connections: {', '.join(ids) or 'none'}.")


@connections.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def export_connections(file: Path) -> None:
    """Write every connection, passwords included, to FILE.json (mode 0600)."""
    from taskkit.services import connections as service
    from taskkit.services.fernet import secret_box

    config = context.settings()
    with context.open_store(config) as store:
        count = service.export_connections(store, secret_box(config), file)
    click.echo(f"Exported {count} connections to {file}.")


def _row(conn: Connection) -> dict[str, Any]:
    from taskkit.authoring.masking import MASK

    row: dict[str, Any] = {"conn_id": conn.conn_id, **conn.to_dict()}
    if row["password"] is not None:
        row["password"] = MASK
    return row
