"""`taskkit celery worker`: a Celery worker that runs tries with the Local executor's runtime."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

import click

from taskkit.cli import context

if TYPE_CHECKING:
    from taskkit.execution.base import DagPayload, Workload
    from taskkit.metastore import Metastore

SQLITE_ACROSS_HOSTS = (
    "this worker on {worker} reads a SQLite metastore, but the scheduler runs on {scheduler}: "
    "SQLite cannot be shared between hosts. Put the metastore on PostgreSQL "
    "(database.sql_alchemy_conn) for workers on other hosts; see docs/distributed.md."
)


@click.group()
def celery() -> None:
    """Run tries on Celery workers (core.executor = celery)."""


@celery.command()
@click.option(
    "--queues",
    help="Comma-separated queues to take tries from (default: celery.default_queue).",
)
@click.option("--concurrency", type=int, help="Override celery.worker_concurrency.")
@click.option(
    "--loglevel",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level of the worker itself (each try has its own log file).",
)
def worker(queues: str | None, concurrency: int | None, loglevel: str) -> int:
    """Start a Celery worker that runs the scheduler's tries.

    Each try runs in its own process forked from a warm zygote, exactly as
    under the Local executor; its log is written under this host's
    $TASKKIT_HOME/logs. The worker reads DAG versions from the metastore
    (database.sql_alchemy_conn) but never writes it: results go back to the
    scheduler on the event channel. Stops gracefully on SIGTERM/SIGINT,
    after its running tries end.
    """
    import logging

    from taskkit.config import remove_secrets_from_environment
    from taskkit.execution.celery_app import make_app
    from taskkit.execution.celery_worker import TryRunner
    from taskkit.logs import configure_logging
    from taskkit.metastore import Metastore
    from taskkit.metastore.engine import normalize_url, sqlite_path

    config = context.settings({"celery.worker_concurrency": concurrency})
    configure_logging(loglevel)
    logging.basicConfig(level=loglevel.upper())
    url = config.database.sql_alchemy_conn
    store = Metastore.open(url)
    is_sqlite = sqlite_path(normalize_url(url)) is not None
    key = context.secret_key(config)
    remove_secrets_from_environment()  # tries inherit the environment
    runner = TryRunner(
        concurrency=config.celery.worker_concurrency,
        secret_key=key,
        events_url=config.celery.events_url,
        logs_folder=config.home / "logs",
        fetch_dag=lambda version_id: _fetch_dag(store, version_id),
        check_due=lambda workload: _check_due(store, workload),
        refuse=SQLITE_ACROSS_HOSTS if is_sqlite else None,
        heartbeat_s=config.scheduler.heartbeat_sec,
    )

    def run_try(events_queue: str, sealed: str, scheduler_host: str) -> None:
        runner.run(events_queue, sealed, scheduler_host)

    app = make_app(config.celery, run_try)
    names = [q.strip() for q in (queues or config.celery.default_queue).split(",") if q.strip()]
    celery_worker = app.Worker(
        queues=names,
        concurrency=config.celery.worker_concurrency,
        pool="threads",
        loglevel=loglevel.upper(),
        hostname=f"taskkit-{os.getpid()}@{socket.gethostname()}",
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        redirect_stdouts=False,
    )
    runner.start()
    try:
        celery_worker.start()
    finally:
        runner.stop()
        store.dispose()
    return int(celery_worker.exitcode or 0)


def _fetch_dag(store: Metastore, version_id: int) -> DagPayload:
    from taskkit.execution.base import DagPayload

    record = store.get_dag_version(version_id)
    return DagPayload(version_id, record.payload, record.signature)


def _check_due(store: Metastore, workload: Workload) -> str | None:
    """Why this try must not run now, or None when it is still queued with this try number."""
    from taskkit.states import State

    ti = store.get_task_instance(workload.key)
    if ti is None:
        return "its task instance no longer exists"
    if ti.try_number != workload.try_number:
        return f"try {workload.try_number} was superseded by try {ti.try_number}"
    if ti.state is not State.QUEUED:
        return f"try {workload.try_number} is already {ti.state.value}"
    return None
