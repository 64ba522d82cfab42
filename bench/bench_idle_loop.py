"""Benchmark an idle scheduler loop: 200 DAGs on @hourly, all up to date, nothing to do.

  .venv/bin/python bench/bench_idle_loop.py                     # SQLite
  .venv/bin/python bench/bench_idle_loop.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

With --url the database is reset (taskkit's tables dropped and recreated): give it a scratch one.

Brings 200 hourly DAGs (catchup off) up to date with a first scheduler, then
builds a fresh Scheduler on the same metastore and measures, with
time.process_time(), the CPU one loop iteration costs: the refresh (pools,
DAGs, active runs; due-run checks from the in-memory plan) plus one step of
decisions. The real loop refreshes every 0.5 s and steps on every wake-up,
so the refresh+step figure is the worst case of one idle iteration.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from taskkit.scheduling.scheduler import Scheduler

DAG_FILE = """
import datetime as dt

from taskkit import DAG, EmptyOperator

for number in range({count}):
    with DAG(f"hourly_{{number:05d}}", schedule="@hourly", catchup=False,
             start_date=dt.datetime(2026, 1, 1)):
        EmptyOperator(task_id="noop")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="metastore URL (default: SQLite in a temporary folder)")
    parser.add_argument("--dags", type=int, default=200)
    parser.add_argument("--iterations", type=int, default=400)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    scheduler = _up_to_date_scheduler(args.url, args.dags)
    refresh, step = [], []
    for _ in range(args.iterations):
        before = time.process_time()
        scheduler._refresh(now := scheduler.clock())
        middle = time.process_time()
        scheduler._step(now)
        refresh.append(middle - before)
        step.append(time.process_time() - middle)
    total = [a + b for a, b in zip(refresh, step, strict=True)]
    assert not scheduler.runs and not scheduler.queued_runs, "a run was created while idle"
    full = []
    for _ in range(5):  # the once-a-minute read of every DAG's flags
        scheduler.dags._full_read_at = None  # due now, instead of a minute on
        before = time.process_time()
        scheduler._refresh(scheduler.clock())
        full.append(time.process_time() - before)
    scheduler.store.dispose()

    def ms(values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[int(len(ordered) * 0.95)]
        return f"median {statistics.median(values) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"

    print(f"idle iteration, {args.dags} @hourly DAGs, {args.iterations} iterations")
    print(f"  refresh + step CPU: {ms(total)}")
    print(f"  refresh alone:      {ms(refresh)}")
    print(f"  step alone:         {ms(step)}")
    print(f"  full flag read (once a minute): {ms(full)}")


def _up_to_date_scheduler(url: str | None, dags: int) -> Scheduler:
    """A fresh scheduler (not running) over `dags` hourly DAGs whose latest runs are done."""
    from taskkit import serde
    from taskkit.config import load_settings
    from taskkit.metastore import Metastore, init_db, reset_db
    from taskkit.scheduling.asset_runs import AssetRunCreator
    from taskkit.scheduling.executors import make_executor
    from taskkit.scheduling.run_creation import RunCreator
    from taskkit.scheduling.run_loader import RunLoader
    from taskkit.scheduling.scheduler import Scheduler

    home = Path(tempfile.mkdtemp(prefix="taskkit-idle-"))
    (home / "dags").mkdir()
    (home / "dags" / "hourly.py").write_text(DAG_FILE.format(count=dags))
    if url and _initialised(url):
        reset_db(url)  # a benchmark database: start from empty tables
    else:
        url = url or f"sqlite:///{home / 'taskkit.db'}"
        init_db(url)
    settings = load_settings(
        overrides={
            "database.sql_alchemy_conn": url,
            "scheduler.dag_dir_list_interval": 3600.0,
            "scheduler.parsing_timeout": 600.0,  # one file of 10,000 DAGs parses for a while
        },
        environ={"TASKKIT_HOME": str(home)},
    )
    started = time.perf_counter()
    Scheduler(settings, exit_when_idle=True).run()  # parse, create the latest runs, run them
    print(f"{dags} DAGs brought up to date in {time.perf_counter() - started:.1f} s")

    scheduler = Scheduler(settings)
    scheduler.store = Metastore.open(url)
    known = len(scheduler.store.list_dag_flags())
    assert known == dags, f"{known} DAGs parsed, not {dags}: see the import errors"
    scheduler.creator = RunCreator(scheduler.store)
    scheduler.asset_runs = AssetRunCreator(scheduler.store)
    scheduler.asset_runs.start()
    scheduler.secret_key = serde.load_secret_key(home, settings.core.secret_key)
    scheduler.loader = RunLoader(scheduler.store, scheduler.secret_key)
    scheduler.executor = make_executor(settings, scheduler.secret_key, scheduler._route)
    # The first refresh plans every DAG (one query, one unpickle per DAG).
    scheduler._refresh(scheduler.clock())
    assert not scheduler.runs and not scheduler.queued_runs, "not up to date"
    return scheduler


def _initialised(url: str) -> bool:
    from taskkit.metastore import check_db

    return check_db(url).current_revision is not None


if __name__ == "__main__":
    main()
