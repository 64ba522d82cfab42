"""Benchmark dynamic task mapping: a 10,000-instance expand against 10,000 plain tasks.

  .venv/bin/python bench/bench_mapping.py                 # DAG.test() and the scheduler (SQLite)
  .venv/bin/python bench/bench_mapping.py --only dag-test
  .venv/bin/python bench/bench_mapping.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Both sides run the same no-op function: as 10,000 independent tasks, and as
one task expanded over a literal list of 10,000 items (core.max_map_length
raised to 10,000). DAG.test() is timed on CPU and wall clocks; the scheduler
(Local executor, core.parallelism 32) from trigger to run success.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import structlog
from bench_scheduler import drop_made_schemas, fresh_pg_schema  # same directory: a script

from taskkit import DAG, task

N = 10_000


@task
def noop(x: int = 0) -> None:
    return None


def plain_dag(count: int) -> DAG:
    with DAG("plain", start_date=dt.datetime(2026, 1, 1)) as dag:
        for _ in range(count):
            noop()
    return dag


def mapped_dag(count: int) -> DAG:
    with DAG("mapped", start_date=dt.datetime(2026, 1, 1)) as dag:
        noop.expand(x=list(range(count)))
    return dag


def per_instance_ms(dag: DAG, count: int, clock: Callable[[], float], repeats: int) -> float:
    """Median cost of one DAG.test() per task instance, in ms, on `clock`."""
    dag.test(max_map_length=count)  # warm-up: builds the spec and caches
    samples = []
    for _ in range(repeats):
        started = clock()
        result = dag.test(max_map_length=count)
        samples.append(clock() - started)
        assert result.state == "success"
    return statistics.median(samples) * 1000 / count


def bench_dag_test(count: int, repeats: int) -> None:
    plain, mapped = plain_dag(count), mapped_dag(count)
    for name, clock in (("cpu", time.process_time), ("wall", time.perf_counter)):
        a = per_instance_ms(plain, count, clock, repeats)
        b = per_instance_ms(mapped, count, clock, repeats)
        print(
            f"DAG.test() [{name}] {count:,} plain tasks: {a:.4f} ms per task; "
            f"one task expanded to {count:,} instances: {b:.4f} ms per instance "
            f"(ratio {b / a:.2f})"
        )


DAG_FILE = """
from taskkit import DAG, task

@task
def noop(x=0):
    return None

with DAG("plain", max_active_tasks=32) as plain:
    for i in range({count}):
        noop.override(task_id=f"noop_{{i}}")()

with DAG("mapped", max_active_tasks=32) as mapped:
    noop.expand(x=list(range({count})))
"""


def _settings(url: str | None, count: int) -> object:
    from taskkit.config import load_settings
    from taskkit.metastore.migrate import init_db, reset_db

    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-mapping-"))
    dags = home / "dags"
    dags.mkdir()
    (dags / "bench_mapping_dags.py").write_text(textwrap.dedent(DAG_FILE.format(count=count)))
    overrides: dict[str, object] = {
        "core.dags_folder": str(dags),
        "core.parallelism": 32,
        "core.max_map_length": count,
        "scheduler.parsing_timeout": 300.0,
    }
    if url:
        _, overrides["database.sql_alchemy_conn"] = fresh_pg_schema(url)
    settings = load_settings(overrides, environ={"TASKKIT_HOME": str(home)})
    (reset_db if url else init_db)(settings.database.sql_alchemy_conn, 128)
    return settings


def _trigger(settings: object, dag_id: str) -> None:
    from taskkit import serde
    from taskkit.metastore.store import Metastore
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import RunType

    store = Metastore.open(settings.database.sql_alchemy_conn)  # type: ignore[attr-defined]
    key = serde.load_secret_key(settings.home, None)  # type: ignore[attr-defined]
    report = sync_dags_folder(store, settings, key)  # type: ignore[arg-type]
    assert not report.errors, report.errors
    version = store.get_current_dag_version(dag_id)
    dag = serde.loads_verified_dag(version.payload, version.signature, key)
    store.create_run(
        dag_id,
        f"bench_{uuid.uuid4().hex[:6]}",
        dt.datetime.now(dt.timezone.utc),
        run_type=RunType.MANUAL,
        dag_version_id=version.id,
        tasks=list(dag.spec.tasks.values()),
    )
    store.dispose()


def _run(settings: object) -> float:
    from taskkit.scheduling.scheduler import Scheduler

    started = time.perf_counter()
    summary = Scheduler(settings, exit_when_idle=True).run()  # type: ignore[arg-type]
    assert all(r.state == "success" for r in summary.runs), summary.render()
    return time.perf_counter() - started


def bench_scheduler(url: str | None, count: int) -> None:
    where = "PostgreSQL" if url else "SQLite"
    seconds = {}
    for dag_id in ("plain", "mapped"):
        settings = _settings(url, count)
        _trigger(settings, dag_id)
        seconds[dag_id] = _run(settings)
    a, b = seconds["plain"] * 1000 / count, seconds["mapped"] * 1000 / count
    print(
        f"scheduler [{where}, local executor] {count:,} plain tasks: {seconds['plain']:.1f}s "
        f"({a:.2f} ms per task); one task expanded to {count:,} instances: "
        f"{seconds['mapped']:.1f}s ({b:.2f} ms per instance, ratio {b / a:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a PostgreSQL URL; SQLite in a temp dir by default")
    parser.add_argument("--count", type=int, default=N)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["dag-test", "scheduler"])
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.only != "scheduler":
        bench_dag_test(args.count, args.repeats)
    if args.only != "dag-test":
        bench_scheduler(args.url, args.count)
    sys.stdout.flush()
    drop_made_schemas()
    os._exit(0)


if __name__ == "__main__":
    main()
