"""`taskkit triggerer`: run the triggers of deferred tasks, all on one asyncio loop."""

from __future__ import annotations

import click

from taskkit.cli import context


@click.command("triggerer")
@click.option(
    "--dags-folder",
    type=click.Path(exists=True, file_okay=False),
    help="Override core.dags_folder (put on the import path, for triggers defined there).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="How much the triggerer logs on stderr.",
)
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process is gone.")
def triggerer(dags_folder: str | None, log_level: str, parent_pid: int | None) -> None:
    """Run every deferred task's trigger until SIGINT/SIGTERM; the scheduler resumes the task.

    The scheduler starts one beside itself unless scheduler.standalone_triggerer
    is true (or it runs with --no-triggerer); run this command yourself when it
    is. Triggers are rebuilt from the metastore, so a triggerer can be killed
    and restarted at any time: the waits go on where they were.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.config import remove_secrets_from_environment
    from taskkit.logs import configure_logging
    from taskkit.scheduling.processor_service import parent_alive
    from taskkit.scheduling.triggerer import Triggerer, import_path

    config = context.settings({"core.dags_folder": dags_folder})
    configure_logging(log_level)
    import_path(str(config.core.dags_folder))
    remove_secrets_from_environment()
    with context.open_store(config) as store:
        Triggerer(store, keep_going=parent_alive(parent_pid)).run()
