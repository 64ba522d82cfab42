"""Benchmark tries per second with 1, 2, ... schedulers sharing one PostgreSQL metastore.

  .venv/bin/python bench/bench_schedulers.py                      # 1 and 2 schedulers
  .venv/bin/python bench/bench_schedulers.py --schedulers 1 2 3 --runs 60 --width 10

Needs PostgreSQL (--url, default TASKKIT_TEST_PG_URL or postgres@127.0.0.1/test). For each
scheduler count it makes a fresh schema, starts that many scheduler processes (Local
executor, core.parallelism --parallelism, each with its own workers), creates --runs runs
of a fan-out of --width no-op tasks at once, and times from their creation to the last
run's success. Results go to docs/distributed.md ("Throughput").
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


def measure(url: str, schedulers: int, runs: int, width: int, parallelism: int) -> float:
    """Seconds from creating the runs to the last one's success, with `schedulers` running."""
    from taskkit import serde
    from taskkit.config import load_settings
    from taskkit.metastore import Metastore, init_db
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import FINISHED_RUN_STATES, RunType

    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-ha-"))
    (home / "dags").mkdir()
    (home / "dags" / "bench_dags.py").write_text(DAG_FILE.format(width=width - 1))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    schema_url = f"{url}?options=-csearch_path%3D{schema}"
    overrides = {
        "database.sql_alchemy_conn": schema_url,
        "core.executor": "local",
        "core.parallelism": parallelism,
        "scheduler.standalone_dag_processor": True,
        "scheduler.dag_dir_list_interval": 3600.0,
    }
    settings = load_settings(overrides=overrides, environ={"TASKKIT_HOME": str(home)})
    init_db(schema_url)
    store = Metastore.open(schema_url)
    processes = []
    try:
        key = serde.load_secret_key(home, None)
        sync_dags_folder(store, settings, key)
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
        return time.monotonic() - started
    finally:
        for process in processes:
            os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
    args = parser.parse_args()
    tries = args.runs * args.width
    print(f"{args.runs} runs x {args.width} tasks = {tries} tries, parallelism {args.parallelism}")
    for count in args.schedulers:
        times = [
            measure(args.url, count, args.runs, args.width, args.parallelism)
            for _ in range(args.repeat)
        ]
        best = min(times)
        print(
            f"{count} scheduler(s): best {best:.2f}s  {tries / best:.0f} tries/s  (all: "
            + ", ".join(f"{t:.2f}s" for t in times)
            + ")"
        )


if __name__ == "__main__":
    main()
