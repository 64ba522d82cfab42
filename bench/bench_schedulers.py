"""Benchmark tries per second with 1, 2, ... schedulers sharing one PostgreSQL metastore.

  .venv/bin/python bench/bench_schedulers.py                      # 1 and 2 schedulers
  .venv/bin/python bench/bench_schedulers.py --schedulers 1 2 3 --runs 60 --width 10
  .venv/bin/python bench/bench_schedulers.py --celery redis://127.0.0.1:6379/0   # one worker

Needs PostgreSQL (--url, default TASKKIT_TEST_PG_URL or postgres@127.0.0.1/test). For each
scheduler count it makes a fresh schema, starts that many scheduler processes (Local
executor, core.parallelism --parallelism, each with its own workers), creates --runs runs
of a fan-out of --width no-op tasks at once, and times from their creation to the last
run's success. With --celery BROKER the schedulers use the Celery executor and share one
`taskkit celery worker` (--concurrency); the CPU the schedulers, the worker and its
tries spent in that window is reported per try. Results go to docs/distributed.md
("Throughput").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

DAG_FILE = """
from taskkit import DAG, task

@task
def noop():
    return None

with DAG("fan_out") as fan:
    root = noop()
    for _ in range({width}):
        root >> noop()
"""

SCRIPT = """
from taskkit.config import load_settings
from taskkit.scheduling.scheduler import Scheduler
settings = load_settings(overrides={overrides!r}, environ={{"TASKKIT_HOME": {home!r}}})
Scheduler(settings, shutdown_grace_s=5.0).run()
"""


def measure(
    url: str,
    *,
    schedulers: int,
    runs: int,
    width: int,
    parallelism: int,
    celery: str | None = None,
    concurrency: int = 8,
) -> tuple[float, float, float]:
    """Seconds from creating the runs to the last one's success, with `schedulers` running,
    and the CPU seconds the schedulers and the Celery worker (with its tries) spent then."""
    from taskkit import serde
    from taskkit.config import load_settings
    from taskkit.metastore import Metastore, init_db
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import FINISHED_RUN_STATES, RunType

    home = _home(width)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    schema_url = f"{url}?options=-csearch_path%3D{schema}"
    overrides = {
        "database.sql_alchemy_conn": schema_url,
        "core.executor": "celery" if celery else "local",
        "core.parallelism": parallelism,
        "scheduler.standalone_dag_processor": True,
        "scheduler.dag_dir_list_interval": 3600.0,
    }
    if celery:  # the worker reads the same settings from the home's taskkit.toml
        (home / "taskkit.toml").write_text(
            f"[database]\nsql_alchemy_conn = {schema_url!r}\n"
            f"[celery]\nbroker_url = {celery!r}\ndefault_queue = {'bench-' + schema!r}\n"
        )
    settings = load_settings(overrides=overrides, environ={"TASKKIT_HOME": str(home)})
    init_db(schema_url)
    store = Metastore.open(schema_url)
    processes = []
    workers = []
    try:
        key = serde.load_secret_key(home, None)
        sync_dags_folder(store, settings, key)
        if celery:
            workers.append(start_worker(home, concurrency))
        script = SCRIPT.format(overrides=overrides, home=str(home))
        for _ in range(schedulers):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", script],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        while len(store.list_schedulers()) < schedulers:
            time.sleep(0.05)
        version = store.get_current_dag_version("fan_out")
        dag = serde.loads_verified_dag(version.payload, version.signature, key)
        tasks = list(dag.spec.tasks.values())
        import datetime as dt

        cpu_before = [session_cpu(p.pid) for p in processes + workers]
        started = time.monotonic()
        for i in range(runs):
            store.create_run(
                "fan_out",
                f"bench_{i}",
                dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                run_type=RunType.MANUAL,
                dag_version_id=version.id,
                tasks=tasks,
            )
        while not all(r.state in FINISHED_RUN_STATES for r in store.list_runs()):
            time.sleep(0.02)
        seconds = time.monotonic() - started
        pairs = zip(processes + workers, cpu_before, strict=True)
        spent = [session_cpu(p.pid) - cpu for p, cpu in pairs]
        return seconds, sum(spent[:schedulers]), sum(spent[schedulers:])
    finally:
        for process in processes + workers:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes + workers:
            process.wait(30)
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _home(width: int) -> Path:
    """A fresh TASKKIT_HOME with the fan-out DAG."""
    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-ha-"))
    (home / "dags").mkdir()
    (home / "dags" / "bench_dags.py").write_text(DAG_FILE.format(width=width - 1))
    return home


def start_worker(home: Path, concurrency: int) -> subprocess.Popen[bytes]:
    """One `taskkit celery worker` for `home`, in a session of its own."""
    env = {**os.environ, "TASKKIT_HOME": str(home)}
    command = [sys.executable, "-m", "taskkit", "celery", "worker"]
    return subprocess.Popen(
        [*command, "--concurrency", str(concurrency)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


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


def main() -> None:
    default_url = os.environ.get(
        "TASKKIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=default_url)
    parser.add_argument("--schedulers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--celery", metavar="BROKER", help="Celery executor, one shared worker")
    parser.add_argument("--concurrency", type=int, default=8, help="the Celery worker's")
    args = parser.parse_args()
    tries = args.runs * args.width
    print(f"{args.runs} runs x {args.width} tasks = {tries} tries, parallelism {args.parallelism}")
    for count in args.schedulers:
        results = [
            measure(
                args.url,
                schedulers=count,
                runs=args.runs,
                width=args.width,
                parallelism=args.parallelism,
                celery=args.celery,
                concurrency=args.concurrency,
            )
            for _ in range(args.repeat)
        ]
        best, scheduler_cpu, worker_cpu = min(results)
        cpu = f"CPU per try: schedulers {scheduler_cpu * 1000 / tries:.2f} ms"
        if args.celery:
            cpu += f", worker and tries {worker_cpu * 1000 / tries:.2f} ms"
        print(
            f"{count} scheduler(s): best {best:.2f}s  {tries / best:.0f} tries/s  {cpu}  (all: "
            + ", ".join(f"{t:.2f}s" for t, _, _ in results)
            + f"; load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
