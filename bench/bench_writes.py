"""Benchmark the scheduler's two hot decisions-to-database paths, each on its own.

  .venv/bin/python bench/bench_writes.py                 # SQLite in a temp dir
  .venv/bin/python bench/bench_writes.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

(a) `transition_task_instances`: 3,000 task instances taken through queued, running and
success in batches of 4 and of 30 changes (what a scheduler writes per try), CPU per change.
(b) one selection round without explanations over one DAG's backlog of 10,000 and 100,000
scheduled tasks while the DAG is one slot short of max_active_tasks, CPU per round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import tempfile
import time
import uuid

from bench_scheduler import fresh_pg_schema  # same directory: run as a script

from taskkit.metastore import Metastore, TIChange
from taskkit.metastore.migrate import init_db, reset_db
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.scheduling.selection import Candidate, Occupancy, select_tasks
from taskkit.states import RunType, State

TASKS = 3000
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def measure_transitions(url: str, batch: int) -> tuple[float, float]:
    """CPU and wall microseconds per change, for TASKS task instances in batches of `batch`."""
    store = Metastore.open(url)
    version = store.save_dag_version("d", "/d.py", b"p", "h", "s")
    run_id = f"r{uuid.uuid4().hex[:6]}"
    specs = [TaskSpec(f"t{i}") for i in range(TASKS)]
    store.create_run(
        "d", run_id, T0, run_type=RunType.MANUAL, dag_version_id=version.version_id, tasks=specs
    )
    keys = [TaskInstanceKey("d", run_id, spec.task_id) for spec in specs]
    now = dt.datetime.now(dt.timezone.utc)
    started, wall = time.process_time(), time.perf_counter()
    for first in range(0, TASKS, batch):
        some = keys[first : first + batch]
        for changes in (
            [
                TIChange(k, State.NONE, state=State.QUEUED, try_number=1, queued_at=now)
                for k in some
            ],
            [TIChange(k, State.QUEUED, state=State.RUNNING, started_at=now, pid=1) for k in some],
            [TIChange(k, State.RUNNING, state=State.SUCCESS, ended_at=now) for k in some],
        ):
            assert all(store.transition_task_instances(changes))
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    store.dispose()
    return cpu * 1e6 / TASKS / 3, wall * 1e6 / TASKS / 3


def measure_round(backlog: int) -> float:
    """CPU milliseconds of one selection round over `backlog` candidates of a full DAG."""
    candidates = [
        Candidate(TaskInstanceKey("huge", "r", f"t{i:06d}"), 1, "default_pool", 1, 0, None, 32)
        for i in range(backlog)
    ]
    occupancy = Occupancy()
    for i in range(31):
        occupancy.add("huge", f"running{i}", "default_pool", 1, "r")
    # Code before the per-DAG counts (to compare trees) takes no such argument.
    counts = (
        {"per_dag": {"huge": backlog}}
        if "per_dag" in inspect.signature(select_tasks).parameters
        else {}
    )
    started = time.process_time()
    for _ in range(20):
        select_tasks(
            candidates,
            pools={"default_pool": 128},
            parallelism=64,
            occupancy=occupancy,
            presorted=True,
            explain=False,
            **counts,  # type: ignore[arg-type]
        )
    return (time.process_time() - started) * 1000 / 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a PostgreSQL URL; SQLite in a temp dir by default")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='taskkit-bench-')}/taskkit.db"
    if args.url:
        _, url = fresh_pg_schema(args.url)
    (reset_db if args.url else init_db)(url, 128)
    where = "PostgreSQL" if args.url else "SQLite"
    for batch in (4, 30):
        cpu, wall = measure_transitions(url, batch)
        print(
            f"[{where}] transitions in batches of {batch}: "
            f"{cpu:.1f} us CPU, {wall:.1f} us wall per change"
        )
    for backlog in (10_000, 100_000):
        cost = measure_round(backlog)
        print(f"selection round over a backlog of {backlog:,}: {cost:.3f} ms CPU")


if __name__ == "__main__":
    main()
