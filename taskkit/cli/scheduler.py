"""`taskkit scheduler`: run the scheduler until stopped, or until idle."""

from __future__ import annotations

import click

from taskkit.cli import context


@click.command()
@click.option(
    "--dags-folder",
    type=click.Path(exists=True, file_okay=False),
    help="Override core.dags_folder.",
)
@click.option(
    "--executor",
    type=click.Choice(["sequential", "local", "celery"]),
    help="Override core.executor.",
)
@click.option("--parallelism", type=int, help="Override core.parallelism.")
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Exit 0 once no run is queued or running (after parsing and creating due runs).",
)
@click.option(
    "--no-dag-processor",
    is_flag=True,
    help="Start no `taskkit dag-processor` beside the scheduler (one runs elsewhere); "
    "the same as scheduler.standalone_dag_processor = true.",
)
@click.option(
    "--no-triggerer",
    is_flag=True,
    help="Start no `taskkit triggerer` beside the scheduler (one runs elsewhere); "
    "the same as scheduler.standalone_triggerer = true.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="How much the scheduler logs on stderr.",
)
def scheduler(
    *,
    dags_folder: str | None,
    executor: str | None,
    parallelism: int | None,
    exit_when_idle: bool,
    no_dag_processor: bool,
    no_triggerer: bool,
    log_level: str,
) -> int:
    """Create runs of the DAGs the DAG processor stored, and run their tasks.

    Runs until SIGINT/SIGTERM, or with --exit-when-idle until nothing is
    queued or running. A first Ctrl-C lets running tries finish (up to 30 s);
    a second stops at once, and the tries it cut short rerun on the next
    start without using a retry. A long-running scheduler starts `taskkit
    dag-processor` beside itself unless --no-dag-processor; with
    --exit-when-idle it parses the DAGs folder once, up front. The first time
    a task defers, every scheduler starts a `taskkit triggerer` beside itself
    (and restarts it if it dies), unless --no-triggerer. On PostgreSQL
    several schedulers may run at once (Local executor): they share the runs,
    and take over those of one that dies (`taskkit schedulers list`).
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.logs import configure_logging

    config = context.settings(
        {
            "core.dags_folder": dags_folder,
            "core.executor": executor,
            "core.parallelism": parallelism,
            "scheduler.standalone_dag_processor": True if no_dag_processor else None,
            "scheduler.standalone_triggerer": True if no_triggerer else None,
        }
    )
    configure_logging(log_level)
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.scheduling.scheduler import Scheduler

    if not exit_when_idle:
        click.echo(
            "taskkit scheduler running. Ctrl-C once: stop after running tries finish; "
            "twice: stop at once (cut-short tries rerun on the next start, no retry used).",
            err=True,
        )
    summary = Scheduler(config, exit_when_idle=exit_when_idle).run()
    click.echo(summary.render())
    return int(summary.exit_code)
