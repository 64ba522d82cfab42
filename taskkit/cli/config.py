"""`taskkit config`: the effective settings and where each one came from."""

from __future__ import annotations

import click

from taskkit.authoring.arguments import did_you_mean
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


@config.command("get-value")
@click.argument("section")
@click.argument("key")
def get_value(section: str, key: str) -> None:
    """Print one setting's effective value, as Airflow's `config get-value SECTION KEY` does.

    Secrets (core.secret_key, core.fernet_key...) print as <hidden>, as in `config list`;
    an unset optional setting prints an empty line.
    """
    name = f"{section}.{key}"
    values = {row_name: value for row_name, value, _ in context.settings().describe()}
    if name not in values:
        raise click.UsageError(
            f"No setting {name!r}.{did_you_mean(name, values)} "
            "Run `taskkit config list` to see every setting."
        )
    click.echo(values[name])
