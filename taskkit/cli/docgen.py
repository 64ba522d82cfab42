"""Render docs/cli.md from the commands' real `--help` text.

Regenerate with `python -m taskkit.cli.docgen > docs/cli.md`;
tests/cli/test_cli_docs.py fails when the file is out of date.
"""

from __future__ import annotations

import click

from taskkit.cli import cli

INTRO = """\
# Command line reference

<!-- Generated from the real --help output: do not edit by hand.
     Regenerate with: python -m taskkit.cli.docgen > docs/cli.md -->

`taskkit` is installed as a console script; `python -m taskkit` is the same
program. Settings come from `$TASKKIT_HOME/taskkit.toml`, then
`TASKKIT__SECTION__KEY` environment variables, then command-line flags
(`taskkit config list` shows each value and its source).

Conventions every command follows:

- An error is **one line** on stderr starting with `error: `, and a non-zero
  exit: 1 for taskkit errors (unknown DAG, run, task or pool, `pools delete
  default_pool`, negative slots, a DAG file that fails to import, a metastore
  that is not initialised: "run `taskkit db init`"), 2 for usage errors (an
  unknown option, `--conf` that is not a JSON object, a bad `--logical-date`).
- `-o json` prints exactly one JSON document (a list of objects) on stdout and
  nothing else there; timestamps are ISO 8601 strings.
- `dags list`, `dags list-import-errors` and `dags trigger` (for a DAG not in
  the metastore yet) parse the DAGs folder first, in a child process.
"""


def _walk(command: click.Command, parent: click.Context | None, name: str) -> list[tuple[str, str]]:
    ctx = click.Context(
        command, info_name=name, parent=parent, terminal_width=88, **command.context_settings
    )
    sections = [(ctx.command_path, command.get_help(ctx))]
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                sections.extend(_walk(sub, ctx, sub_name))
    return sections


def render_cli_doc() -> str:
    """The whole of docs/cli.md: the intro, then every command's --help in a code block."""
    parts = [INTRO]
    for path, text in _walk(cli, None, "taskkit"):
        level = "##" if path.count(" ") <= 1 else "###"
        parts.append(f"{level} `{path}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    click.echo(render_cli_doc(), nl=False)
