"""`taskkit users`: who may log in to the API and UI, and with which role."""

from __future__ import annotations

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option


@click.group()
def users() -> None:
    """Manage the users of the API and web UI (roles: admin, op, viewer)."""


@users.command()
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "op", "viewer"]),
    help="viewer reads; op also triggers, clears, marks, pauses and edits pools; admin also "
    "manages users.",
)
@click.option("--password", help="At least 8 characters; default: generate one and print it.")
def create(username: str, role: str, password: str | None) -> None:
    """Create USERNAME with a role (and print the password when it was generated)."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.users import Role, create_user

    config = context.settings()
    with context.open_store(config) as store:
        user, generated = create_user(store, username, Role(role), password)
    click.echo(f"Created user {user.username!r} with role {user.role.value}.")
    if generated is not None:
        click.echo(f"Password: {generated}")


@users.command("list")
@output_option
def list_users(output: str) -> None:
    """Every user and their role."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.users import list_users as every_user

    config = context.settings()
    with context.open_store(config) as store:
        found = every_user(store)
    rows = [
        {"username": u.username, "role": u.role.value, "created_at": u.created_at} for u in found
    ]
    emit(rows, ["username", "role", "created_at"], output, "No users.")


@users.command()
@click.argument("username")
def delete(username: str) -> None:
    """Delete USERNAME."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.users import delete_user

    config = context.settings()
    with context.open_store(config) as store:
        delete_user(store, username)
    click.echo(f"Deleted user {username!r}.")
