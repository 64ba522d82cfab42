"""`taskkit config`: the effective settings and where each one came from."""

from __future__ import annotations

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option


@click.group()
def config() -> None:
    """Show taskkit's settings."""


@config.command("list")
@output_option
def list_settings(output: str) -> None:
    """Every setting's effective value and its source (default, file, env or flag)."""
    rows = [
        {"name": name, "value": value, "source": source}
        for name, value, source in context.settings().describe()
    ]
    emit(rows, ["name", "value", "source"], output, "No settings.")
