"""The `taskkit` command line: thin click commands over library calls.

Heavy modules (SQLAlchemy, the metastore, cloudpickle, structlog) are
imported inside command bodies, so `taskkit --help` stays fast. Every
TaskkitError and usage error becomes ONE line on stderr ("error: ...") and
a non-zero exit: 1 for taskkit errors, 2 for usage errors.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from taskkit.cli import (
    api_server,
    assets,
    celery,
    config,
    connections,
    dag_processor,
    dags,
    db,
    pools,
    runs,
    scheduler,
    schedulers,
    tasks,
    triggerer,
    users,
    variables,
)
from taskkit.errors import TaskkitError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def _fail(message: str, code: int) -> int:
    click.echo(f"error: {_one_line(message)}", err=True)
    return code


class TaskkitGroup(click.Group):
    """The root group: runs commands and turns expected errors into one line and an exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name or "taskkit", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self, args: Sequence[str] | None, prog_name: str, complete_var: str | None, **extra: Any
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            return _fail(exc.format_message() + hint, EXIT_USAGE)
        except click.Abort:
            return _fail("aborted", EXIT_ERROR)
        except click.ClickException as exc:
            return _fail(exc.format_message(), exc.exit_code or EXIT_ERROR)
        except TaskkitError as exc:
            return _fail(str(exc), EXIT_ERROR)
        except KeyboardInterrupt:
            return _fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:  # `taskkit dags list | head`
            return EXIT_ERROR
        return result if isinstance(result, int) else 0


@click.group(cls=TaskkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="taskkit", prog_name="taskkit", message="%(prog)s %(version)s")
def cli() -> None:
    """taskkit: code-first workflows with Airflow's concurrency model done right.

    Settings come from $TASKKIT_HOME/taskkit.toml (TASKKIT_HOME defaults to
    ~/taskkit), overridden by TASKKIT__SECTION__KEY environment variables and
    by command-line flags. Run `taskkit config list` to see them.
    """


# The subcommand modules import only click at the top, so registering them costs little.
for command in (
    db.db,
    scheduler.scheduler,
    schedulers.schedulers,
    dag_processor.dag_processor,
    triggerer.triggerer,
    dags.dags,
    runs.runs,
    tasks.tasks,
    pools.pools,
    variables.variables,
    connections.connections,
    assets.assets,
    config.config,
    celery.celery,
    users.users,
    api_server.api_server,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default sys.argv[1:]) and return the exit code."""
    code: int = cli.main(args=argv, prog_name="taskkit", standalone_mode=False)
    return code
