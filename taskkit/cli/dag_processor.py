"""`taskkit dag-processor`: parse the DAGs folder every interval and store what it finds."""

from __future__ import annotations

import click

from taskkit.cli import context


@click.command("dag-processor")
@click.option(
    "--dags-folder",
    type=click.Path(exists=True, file_okay=False),
    help="Override core.dags_folder.",
)
@click.option(
    "-n",
    "--num-runs",
    type=click.IntRange(min=1),
    help="Parse the folder this many times, then exit (default: until stopped).",
)
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process is gone.")
def dag_processor(dags_folder: str | None, num_runs: int | None, parent_pid: int | None) -> None:
    """Parse the DAGs folder every scheduler.dag_dir_list_interval seconds and store the DAGs.

    The scheduler starts one beside itself unless scheduler.standalone_dag_processor
    is true; run this command yourself when it is (e.g. on another machine).
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.config import remove_secrets_from_environment
    from taskkit.scheduling.dag_import import check_dags_folder
    from taskkit.scheduling.processor_service import parent_alive, run_processor

    config = context.settings({"core.dags_folder": dags_folder})
    check_dags_folder(config.core.dags_folder)
    key = context.secret_key(config)
    remove_secrets_from_environment()  # DAG files are parsed in children of this process
    with context.open_store(config) as store:
        run_processor(
            store,
            config,
            key,
            num_runs=num_runs,
            keep_going=parent_alive(parent_pid),
        )
