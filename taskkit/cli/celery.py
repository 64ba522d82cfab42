"""`taskkit celery worker|workers|stop|flower`: run, watch and stop a fleet of Celery workers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option
from taskkit.errors import BrokerUnreachableError, TaskkitError
from taskkit.model.workers import RunningTry, WorkerReport
from taskkit.states import State

if TYPE_CHECKING:
    from collections.abc import Sequence

    from taskkit.config import Settings
    from taskkit.execution.base import DagPayload
    from taskkit.execution.workload import Workload
    from taskkit.metastore import Metastore
    from taskkit.model.workers import WorkerReport

SQLITE_ACROSS_HOSTS = (
    "this worker on {worker} reads a SQLite metastore, but the scheduler runs on {scheduler}: "
    "SQLite cannot be shared between hosts. Put the metastore on PostgreSQL "
    "(database.sql_alchemy_conn) for workers on other hosts; see docs/distributed.md."
)
#: Rows of workers silent this long are deleted when a new worker starts.
FORGET_AFTER = dt.timedelta(days=1)
WORKER_COLUMNS = ["name", "host", "status", "queues", "concurrency", "running", "last_heartbeat"]


@click.group()
def celery() -> None:
    """Run tries on Celery workers (core.executor = celery)."""


def _queue_names(raw: str) -> list[str]:
    return [q.strip() for q in raw.split(",") if q.strip()]


@celery.command()
@click.option(
    "--queues",
    help="Comma-separated queues to take tries from (default: celery.default_queue).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Tries run at once (overrides celery.worker_concurrency and celery.worker_autoscale).",
)
@click.option(
    "--autoscale",
    metavar="MAX,MIN",
    help="Let Celery's autoscaler size the pool between MIN and MAX (celery.worker_autoscale).",
)
@click.option(
    "--loglevel",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level of the worker itself (each try has its own log file).",
)
def worker(
    queues: str | None, concurrency: int | None, autoscale: str | None, loglevel: str
) -> int:
    """Start a Celery worker that runs the scheduler's tries.

    Each try runs in its own process forked from a warm zygote, exactly as
    under the Local executor; its log is written under this host's
    $TASKKIT_HOME/logs. The worker reads DAG versions from the metastore
    (database.sql_alchemy_conn) and writes only its own heartbeat there
    (`taskkit celery workers`): results go back to the scheduler on the event
    channel. On SIGTERM/SIGINT or `taskkit celery stop` it takes no new tries,
    lets the running ones finish for celery.worker_shutdown_timeout seconds,
    then fails the rest and exits.
    """
    if concurrency is not None and autoscale is not None:
        raise click.UsageError("give --concurrency or --autoscale, not both")
    overrides: dict[str, object] = {
        "celery.worker_concurrency": concurrency,
        "celery.worker_autoscale": "" if concurrency is not None else autoscale,
    }
    config = context.settings(overrides)
    names = _queue_names(queues or config.celery.default_queue)
    if not names:
        raise click.UsageError("--queues names no queue")
    return _run_worker(config, names, loglevel)


def _run_worker(config: Settings, queues: list[str], loglevel: str) -> int:
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from celery import signals

    from taskkit.config import remove_secrets_from_environment
    from taskkit.execution.celery_app import make_app
    from taskkit.execution.celery_health import HealthReporter
    from taskkit.execution.celery_pool import pool_class
    from taskkit.execution.celery_worker import TryRunner
    from taskkit.logs import configure_logging
    from taskkit.metastore import Metastore
    from taskkit.metastore.engine import normalize_url, sqlite_path
    from taskkit.services.secrets_source import try_environment

    configure_logging(loglevel)
    logging.basicConfig(level=loglevel.upper())
    url = config.database.sql_alchemy_conn
    store = Metastore.open(url)
    autoscale = config.celery.worker_autoscale
    most = autoscale.max if autoscale else config.celery.worker_concurrency
    key = context.secret_key(config)
    remove_secrets_from_environment()  # tries inherit the environment
    runner = TryRunner(
        concurrency=most,
        secret_key=key,
        events_url=config.celery.events_url,
        logs_folder=config.home / "logs",
        fetch_dag=lambda version_id: _fetch_dag(store, version_id),
        check_due=lambda workloads: _check_due(store, workloads),
        refuse=SQLITE_ACROSS_HOSTS if sqlite_path(normalize_url(url)) is not None else None,
        heartbeat_s=config.scheduler.heartbeat_sec,
        try_environment=try_environment(config),
        reuse_processes=config.local.reuse_processes,
        reuse_max_rss_mb=config.local.reuse_max_rss_mb,
        reuse_idle_timeout=config.local.reuse_idle_timeout,
    )

    def run_try(events_queue: str, sealed: str, scheduler_host: str) -> None:
        runner.run(events_queue, sealed, scheduler_host)

    def before_pool_stops() -> None:
        health.stopping()
        runner.drain(config.celery.worker_shutdown_timeout)

    app = make_app(config.celery, run_try)
    name = f"taskkit-{os.getpid()}@{socket.gethostname()}"
    options: dict[str, Any] = (
        {"autoscale": (autoscale.max, autoscale.min)} if autoscale else {"concurrency": most}
    )
    celery_worker = app.Worker(
        queues=queues,
        pool_cls=pool_class(before_pool_stops),
        loglevel=loglevel.upper(),
        hostname=name,
        without_gossip=True,
        without_mingle=True,
        redirect_stdouts=False,
        **options,
    )
    started = _utcnow()

    def snapshot(state: Any) -> WorkerReport:
        pool = getattr(celery_worker, "pool", None)
        return WorkerReport(
            name=name,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            queues=tuple(queues),
            concurrency=int(pool.num_processes) if pool is not None else most,
            autoscale=str(autoscale) if autoscale else None,
            running=tuple(
                RunningTry(key.dag_id, key.run_id, key.task_id, number)
                for key, number in runner.running_tries()
            ),
            state=state,
            started_at=started,
            last_heartbeat=_utcnow(),
        )

    health = HealthReporter(snapshot, store.save_celery_worker, config.scheduler.heartbeat_sec)
    signals.worker_shutting_down.connect(lambda **_: health.stopping(), weak=False)
    store.forget_celery_workers(_utcnow() - FORGET_AFTER)
    runner.start()
    health.start()
    try:
        celery_worker.start()
    finally:
        runner.stop()
        health.stop()
        store.dispose()
    return int(celery_worker.exitcode or 0)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _fetch_dag(store: Metastore, version_id: int) -> DagPayload:
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.execution.base import DagPayload

    record = store.get_dag_version(version_id)
    return DagPayload(version_id, record.payload, record.signature)


def _check_due(store: Metastore, workloads: Sequence[Workload]) -> list[str | None]:
    """For each try, why it must not run now, or None when it is still queued with its number.

    One query for the whole batch a worker received.
    """
    current = store.current_tries(workload.key for workload in workloads)
    return [_why_not_due(workload, current.get(workload.key)) for workload in workloads]


def _why_not_due(workload: Workload, current: tuple[int, State] | None) -> str | None:
    if current is None:
        return "its task instance no longer exists"
    try_number, state = current
    if try_number != workload.try_number:
        return f"try {workload.try_number} was superseded by try {try_number}"
    if state is not State.QUEUED:
        return f"try {workload.try_number} is already {state.value}"
    return None


def _worker_rows(config: Settings, store: Metastore) -> list[dict[str, Any]]:
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.execution.celery_health import describe_workers

    return describe_workers(
        store.list_celery_workers(),
        now=_utcnow(),
        lost_after_s=config.scheduler.task_heartbeat_timeout,
    )


@celery.command()
@output_option
@click.option("--all", "show_all", is_flag=True, help="Also list workers that stopped cleanly.")
def workers(output: str, show_all: bool) -> None:
    """The Celery workers of this metastore: host, queues, concurrency, running tries, health.

    A worker is "online", "stopping", "stopped" (hidden unless --all), or
    "lost" when it sent no heartbeat for scheduler.task_heartbeat_timeout
    seconds (killed, hung or cut off; the scheduler fails its tries as lost).
    """
    config = context.settings()
    with context.open_store(config) as store:
        rows = _worker_rows(config, store)
    if not show_all:
        rows = [row for row in rows if row["status"] != "stopped"]
    emit(rows, WORKER_COLUMNS, output, "No Celery workers have reported to this metastore.")


@celery.command()
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Stop every live worker of this metastore.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the workers have stopped.",
)
def stop(names: tuple[str, ...], every: bool, wait: bool) -> None:
    """Stop Celery workers gracefully: those named, every one (--all), or those on this host.

    A stopping worker takes no new tries, lets its running tries finish for
    celery.worker_shutdown_timeout seconds, then fails the rest (they are
    retried per their task's retries) and exits; tries it had received but
    not started go back to the broker for another worker.
    """
    config = context.settings()
    with context.open_store(config) as store:
        live = [r for r in _worker_rows(config, store) if r["status"] in {"online", "stopping"}]
        targets = _targets(live, names, every)
        _send_shutdown(config, targets)
        click.echo(f"asked to stop: {', '.join(targets)}")
        if not wait:
            return
        deadline = time.monotonic() + config.celery.worker_shutdown_timeout + 30
        pending = set(targets)
        while pending and time.monotonic() < deadline:
            time.sleep(0.5)
            for row in _worker_rows(config, store):
                if row["name"] in pending and row["status"] in {"stopped", "lost"}:
                    pending.discard(row["name"])
                    click.echo(f"{row['status']}: {row['name']}")
    if pending:
        raise TaskkitError(
            f"Celery workers still running after the shutdown timeout: {', '.join(sorted(pending))}"
        )


def _send_shutdown(config: Settings, targets: list[str]) -> None:
    """Celery's remote `shutdown` to `targets`; one clear error if the broker does not answer."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from kombu.exceptions import OperationalError
    from sqlalchemy.engine import make_url

    from taskkit.execution.celery_app import make_app

    app = make_app(config.celery)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=2, interval_start=0.5, interval_max=1)
            app.control.shutdown(destination=targets, connection=connection)
    except (OperationalError, OSError) as exc:
        where = make_url(config.celery.broker_url).render_as_string(hide_password=True)
        raise BrokerUnreachableError(
            f"Cannot reach the Celery broker at {where} ({exc}). Check that it runs and that "
            "celery.broker_url is right; the workers were not asked to stop."
        ) from exc
    finally:
        app.close()


def _targets(live: list[dict[str, Any]], names: tuple[str, ...], every: bool) -> list[str]:
    if names and every:
        raise click.UsageError("name workers or give --all, not both")
    known = {row["name"] for row in live}
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise TaskkitError(
                f"No live Celery worker named {', '.join(unknown)}. "
                "Run `taskkit celery workers` to see them."
            )
        return list(names)
    host = socket.gethostname()
    chosen = [row["name"] for row in live if every or row["host"] == host]
    if not chosen:
        where = "" if every else f" on {host}"
        raise TaskkitError(
            f"No live Celery worker{where}. Run `taskkit celery workers` to see them."
        )
    return chosen


@celery.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option(
    "--hostname",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; 0.0.0.0 exposes Flower to the network (set celery.flower_basic_auth).",
)
def flower(port: int, hostname: str) -> int:
    """Start Celery Flower, the web UI for watching workers and queues, on the broker.

    Needs the `flower` extra (pip install 'taskkit[flower]'). With
    celery.flower_basic_auth ("user:password[,user:password]") set, every
    page asks for a login.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.execution.celery_app import make_app

    if find_spec("flower") is None:
        raise TaskkitError("Flower is not installed; install it: pip install 'taskkit[flower]'")
    config = context.settings()
    argv = ["flower", f"--address={hostname}", f"--port={port}"]
    if config.celery.flower_basic_auth:
        argv.append(f"--basic_auth={config.celery.flower_basic_auth}")
    app = make_app(config.celery)
    return int(app.start(argv) or 0)
