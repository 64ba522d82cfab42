"""`taskkit scheduler`: run the scheduler until stopped, or until idle."""

from __future__ import annotations

import click

from taskkit.cli import context


@click.command()
@click.option(
    "--dags-folder",
    type=click.Path(file_okay=False),
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
def scheduler(
    dags_folder: str | None, executor: str | None, parallelism: int | None, exit_when_idle: bool
) -> int:
    """Parse the DAGs folder, create runs and run their tasks.

    Runs until SIGINT/SIGTERM (then drains gracefully), or with
    --exit-when-idle until nothing is queued or running.
    """
    config = context.settings(
        {
            "core.dags_folder": dags_folder,
            "core.executor": executor,
            "core.parallelism": parallelism,
        }
    )
    from taskkit.scheduling.scheduler import Scheduler

    summary = Scheduler(config, exit_when_idle=exit_when_idle).run()
    click.echo(summary.render())
    return int(summary.exit_code)
