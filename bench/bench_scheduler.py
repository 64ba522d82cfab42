"""Benchmark the scheduler with the Local executor on a real metastore.

  .venv/bin/python bench/bench_scheduler.py                     # SQLite
  .venv/bin/python bench/bench_scheduler.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Measures (a) a 1,000-task fan-out of no-op tasks, trigger to run success, in
tasks per second; (b) a 200-task chain: the latency from one task's end to the
next task's start, as recorded by the tasks themselves; (c) the scheduler's
peak RSS while it holds a 10,000-task run (--rss).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import resource
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import structlog

DAG_FILE = """
import time
from taskkit import DAG, chain, task

RECORD = {record!r}

@task
def noop():
    return None

@task
def timed():
    with open(RECORD, "a") as f:
        f.write(f"start {{time.time()}}\\n")
    with open(RECORD, "a") as f:
        f.write(f"end {{time.time()}}\\n")

with DAG("fan_out") as fan:
    root = noop()
    for _ in range({width}):
        root >> noop()

with DAG("chain") as ch:
    chain(*[timed() for _ in range({length})])

with DAG("huge") as huge:
    for _ in range({huge}):
        noop()
"""


def prepare(url: str | None, width: int, length: int, huge: int) -> tuple[object, Path]:
    from taskkit.config import load_settings
    from taskkit.metastore.migrate import init_db, reset_db

    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-"))
    dags = home / "dags"
    dags.mkdir()
    record = home / "chain.record"
    (dags / "bench_dags.py").write_text(
        textwrap.dedent(DAG_FILE.format(record=str(record), width=width, length=length, huge=huge))
    )
    overrides: dict[str, object] = {"core.dags_folder": str(dags), "core.parallelism": 32}
    if url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        url = f"{url}?options=-csearch_path%3D{schema}"
        overrides["database.sql_alchemy_conn"] = url
    settings = load_settings(overrides, environ={"TASKKIT_HOME": str(home)})
    (reset_db if url else init_db)(settings.database.sql_alchemy_conn, 128)
    return settings, record


def trigger(settings: object, dag_id: str) -> None:
    from taskkit import serde
    from taskkit.metastore.store import Metastore
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import RunType

    store = Metastore.open(settings.database.sql_alchemy_conn)  # type: ignore[attr-defined]
    key = serde.load_secret_key(settings.home, None)  # type: ignore[attr-defined]
    sync_dags_folder(store, settings, key)  # type: ignore[arg-type]
    version = store.get_current_dag_version(dag_id)
    dag = serde.loads_verified_dag(version.payload, version.signature, key)
    store.create_run(
        dag_id,
        f"bench_{uuid.uuid4().hex[:6]}",
        dt.datetime.now(dt.timezone.utc),
        run_type=RunType.MANUAL,
        dag_version_id=version.id,
        tasks=list(dag.spec.tasks.values()),
    )  # type: ignore[attr-defined]
    store.dispose()


def run_scheduler(settings: object) -> float:
    from taskkit.scheduling.scheduler import Scheduler

    started = time.perf_counter()
    summary = Scheduler(settings, exit_when_idle=True).run()  # type: ignore[arg-type]
    assert all(r.state == "success" for r in summary.runs), summary.render()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a PostgreSQL URL; SQLite in a temp dir by default")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--rss", action="store_true", help="also hold a 10,000-task run")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings, record = prepare(args.url, args.width - 1, args.length, 10_000 if args.rss else 1)
    where = "PostgreSQL" if args.url else "SQLite"

    trigger(settings, "fan_out")
    seconds = run_scheduler(settings)
    print(
        f"[{where}] fan-out of {args.width} tasks: {seconds:.2f}s trigger to success "
        f"(including scheduler start-up), {args.width / seconds:.0f} tasks/s"
    )

    trigger(settings, "chain")
    run_scheduler(settings)
    stamps = [line.split() for line in record.read_text().splitlines()]
    starts = [float(v) for k, v in stamps if k == "start"]
    ends = [float(v) for k, v in stamps if k == "end"]
    hops = [(s - e) * 1000 for e, s in zip(ends[:-1], starts[1:], strict=True)]
    print(
        f"[{where}] chain of {args.length}: hop latency median {statistics.median(hops):.1f} ms, "
        f"p90 {sorted(hops)[int(len(hops) * 0.9)]:.1f} ms"
    )

    if args.rss:
        trigger(settings, "huge")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seconds = run_scheduler(settings)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"[{where}] 10,000-task run: {seconds:.1f}s, scheduler peak RSS {peak:.0f} MB "
            f"(was {before:.0f} MB before the run)"
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
