"""Rendering rows as an aligned text table or as one JSON document on stdout."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

Row = Mapping[str, Any]

#: The `-o/--output` option shared by every listing command.
output_option = click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Print an aligned table, or one JSON document (a list of objects).",
)


def to_json_value(value: object) -> object:
    """A JSON-friendly form: datetimes as ISO 8601, enums as their values."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return value


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(to_json_value(value))


def render_table(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """Rows as a plain table with a header line; columns are padded to their widest cell."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(columns), *cells]
    ]
    return "\n".join(lines)


def emit(rows: Sequence[Row], columns: Sequence[str], output: str, empty: str) -> None:
    """Print `rows`: JSON (every key) or a table of `columns` (`empty` when there are none)."""
    if output == "json":
        document = [{k: to_json_value(v) for k, v in row.items()} for row in rows]
        click.echo(json.dumps(document, indent=2))
    elif rows:
        click.echo(render_table(rows, columns))
    else:
        click.echo(empty)
