"""`taskkit variables`: set, get, list, delete, import and export variables."""

from __future__ import annotations

import json
from pathlib import Path

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option


@click.group()
def variables() -> None:
    """Manage variables: values shared by DAGs (Variable.get, {{ var.value.key }})."""


@variables.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", help="What the variable is for.")
@click.option("-j", "--serialize-json", is_flag=True, help="VALUE is JSON: check and store it.")
def set_variable(key: str, value: str, description: str | None, serialize_json: bool) -> None:
    """Set variable KEY to VALUE (created or replaced)."""
    from taskkit.errors import VariableError
    from taskkit.services import variables as service
    from taskkit.services.fernet import secret_box

    if serialize_json:
        try:
            value = json.dumps(json.loads(value), indent=2)
        except json.JSONDecodeError as exc:
            raise VariableError(f"Value for {key!r} is not valid JSON: {exc}.") from None
    config = context.settings()
    with context.open_store(config) as store:
        service.set_variable(store, secret_box(config), key, value, description)
    click.echo(f"Variable {key!r} set.")


@variables.command("get")
@click.argument("key")
@click.option("-d", "--default", help="Print this instead of failing when KEY does not exist.")
@click.option(
    "-j", "--deserialize-json", is_flag=True, help="Check the value is JSON; pretty-print."
)
def get_variable(key: str, default: str | None, deserialize_json: bool) -> None:
    """Print the value of variable KEY (TASKKIT_VAR_<KEY> wins, as in tasks)."""
    from taskkit.authoring.variables import Variable
    from taskkit.errors import VariableNotFoundError

    config = context.settings()
    try:
        with context.metastore_secrets(config):
            value = Variable.get(key, deserialize_json=deserialize_json)
    except VariableNotFoundError:
        if default is None:
            raise
        value = default
    click.echo(json.dumps(value, indent=2) if deserialize_json else value)


@variables.command("list")
@output_option
def list_variables(output: str) -> None:
    """Every variable; values of keys that look secret show as ***."""
    from taskkit.authoring.masking import MASK
    from taskkit.services import variables as service
    from taskkit.services.fernet import secret_box

    config = context.settings()
    with context.open_store(config) as store:
        found, _ = service.list_variables(store, secret_box(config))
    rows = [
        {
            "key": v.key,
            "value": MASK if v.is_sensitive else v.value,
            "description": v.description,
        }
        for v in found
    ]
    emit(rows, ["key", "value", "description"], output, "No variables.")


@variables.command()
@click.argument("key")
def delete(key: str) -> None:
    """Delete variable KEY."""
    from taskkit.services import variables as service

    config = context.settings()
    with context.open_store(config) as store:
        service.delete_variable(store, key)
    click.echo(f"Deleted variable {key!r}.")


@variables.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_variables(file: Path) -> None:
    """Create or replace the variables in FILE.json, all or none ({"key": value, ...})."""
    from taskkit.services import variables as service
    from taskkit.services.fernet import secret_box

    service.read_variables_file(file)  # a bad file fails before the metastore is opened
    config = context.settings()
    with context.open_store(config) as store:
        keys = service.import_variables(store, secret_box(config), file)
    click.echo(f"Imported {len(keys)} variables: {', '.join(keys) or 'none'}.")


@variables.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def export_variables(file: Path) -> None:
    """Write every variable to FILE.json (mode 0600) in the format `variables import` reads."""
    from taskkit.services import variables as service
    from taskkit.services.fernet import secret_box

    config = context.settings()
    with context.open_store(config) as store:
        count = service.export_variables(store, secret_box(config), file)
    click.echo(f"Exported {count} variables to {file}.")
