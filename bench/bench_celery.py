"""Benchmark tries per second through the Celery executor with 1, 2 and 4 worker processes.

  .venv/bin/python bench/bench_celery.py                       # Redis broker
  .venv/bin/python bench/bench_celery.py --broker amqp://guest:guest@127.0.0.1:5672//
  .venv/bin/python bench/bench_celery.py --tries-per-message 8  # celery.tries_per_message
  .venv/bin/python bench/bench_celery.py --reuse 1000           # [local] reuse_processes

Needs PostgreSQL (--url, default TASKKIT_TEST_PG_URL or postgres@127.0.0.1/test) and the
broker. For each worker count it starts that many `taskkit celery worker` processes
(--concurrency each), runs a warm-up run, then times a fan-out of --width no-op tasks
from trigger to run success with the scheduler in this process (core.parallelism 32).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog
from bench_scheduler import (  # same directory: run as a script
    drop_made_schemas,
    fresh_pg_schema,
    run_scheduler,
    running_scheduler,
    trigger,
    wait_for_success,
)

DAG_FILE = """
from taskkit import DAG, task

@task
def noop():
    return None

with DAG("fan_out") as fan:
    root = noop()
    for _ in range({width}):
        root >> noop()

with DAG("warmup") as warm:
    for _ in range(8):
        noop()
"""


def prepare(
    url: str, broker: str, width: int, tries_per_message: int | None, reuse: int = 0
) -> object:
    from taskkit.config import load_settings
    from taskkit.metastore.migrate import init_db

    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-celery-"))
    (home / "dags").mkdir()
    (home / "dags" / "bench_dags.py").write_text(DAG_FILE.format(width=width - 1))
    schema, url = fresh_pg_schema(url)
    (home / "taskkit.toml").write_text(
        f"[core]\nexecutor = 'celery'\nparallelism = 32\n"
        f"[database]\nsql_alchemy_conn = {url!r}\n"
        f"[celery]\nbroker_url = {broker!r}\ndefault_queue = {'bench-' + schema!r}\n"
        + ("" if tries_per_message is None else f"tries_per_message = {tries_per_message}\n")
        + f"[local]\nreuse_processes = {reuse}\n"
    )
    settings = load_settings(environ={"TASKKIT_HOME": str(home)})
    init_db(settings.database.sql_alchemy_conn, 128)
    return settings


def start_workers(settings: object, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "TASKKIT_HOME": str(settings.home)}  # type: ignore[attr-defined]
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskkit",
                "celery",
                "worker",
                "--concurrency",
                str(concurrency),
            ],
            env=env,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    default_url = os.environ.get(
        "TASKKIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--url", default=default_url, help="a PostgreSQL URL")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8, help="per worker process")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--tries-per-message", type=int, help="celery.tries_per_message (default: the setting's)"
    )
    parser.add_argument(
        "--reuse", type=int, default=0, help="[local] reuse_processes on the workers (0: off)"
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    broker = "RabbitMQ" if args.broker.startswith(("amqp", "pyamqp")) else "Redis"
    for count in (int(n) for n in args.workers.split(",")):
        settings = prepare(args.url, args.broker, args.width, args.tries_per_message, args.reuse)
        workers = start_workers(settings, count, args.concurrency)
        try:
            trigger(settings, "warmup")
            run_scheduler(settings)
            trigger(settings, "fan_out")
            workers_before = sum(session_cpu(w.pid) for w in workers)
            own_before = sum(process_cpu(w.pid) for w in workers)
            scheduler_before = time.process_time()
            seconds, _, _ = run_scheduler(settings)
            scheduler_cpu = time.process_time() - scheduler_before
            workers_cpu = sum(session_cpu(w.pid) for w in workers) - workers_before
            own_cpu = sum(process_cpu(w.pid) for w in workers) - own_before
            with running_scheduler(settings, "warmup"):  # start-up left out, as a service's
                run = wait_for_success(settings, "fan_out", trigger(settings, "fan_out"))
                # The run's own stamps: from its creation (the trigger's commit), its start.
                on_running = (run.ended_at - run.created_at).total_seconds()
                from_start = (run.ended_at - run.started_at).total_seconds()
        finally:
            stop_workers(workers)
        print(
            f"[{broker}, PostgreSQL] {count} worker process(es) x {args.concurrency}, "
            f"{args.tries_per_message or 1} tries per message"
            + (f", reuse_processes={args.reuse}" if args.reuse else "")
            + ": "
            f"fan-out of {args.width} no-op tasks in {seconds:.2f}s, "
            f"{args.width / seconds:.0f} tries/s; CPU per try: scheduler "
            f"{scheduler_cpu * 1000 / args.width:.2f} ms, workers "
            f"{workers_cpu * 1000 / args.width:.2f} ms (Celery worker processes "
            f"{own_cpu * 1000 / args.width:.2f} ms, zygotes and tries "
            f"{(workers_cpu - own_cpu) * 1000 / args.width:.2f} ms); on a running scheduler: "
            f"{args.width / on_running:.0f} tries/s trigger to success, "
            f"{args.width / from_start:.0f} tries/s from the run's start",
            flush=True,
        )
    drop_made_schemas()


def process_cpu(pid: int) -> float:
    """CPU seconds of one process itself, all its threads (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def session_cpu(session: int) -> float:
    """CPU seconds of every process in a session, with the children they reaped (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # it exited meanwhile
            continue
        if int(fields[3]) == session:  # fields[3]: the session id (field 6 of stat)
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / tick


if __name__ == "__main__":
    main()
