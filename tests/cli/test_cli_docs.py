"""docs/cli.md is generated from the real --help output and must be up to date."""

from __future__ import annotations

from pathlib import Path

from taskkit.cli.docgen import render_cli_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_doc_matches_the_help_output() -> None:
    """docs/cli.md equals what `python -m taskkit.cli.docgen` renders from the commands."""
    assert DOC.read_text() == render_cli_doc(), (
        "docs/cli.md is stale: run `python -m taskkit.cli.docgen > docs/cli.md`"
    )


def test_cli_doc_covers_every_command() -> None:
    """Every A3 command has its own section in docs/cli.md."""
    text = DOC.read_text()
    for command in (
        "db init",
        "db reset",
        "scheduler",
        "dags trigger",
        "dags list-import-errors",
        "dags show",
        "runs list",
        "tasks why",
        "tasks logs",
        "pools import",
        "pools export",
        "config list",
    ):
        assert f"`taskkit {command}`" in text, command
