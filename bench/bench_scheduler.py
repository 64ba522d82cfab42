"""Benchmark the scheduler with the Local executor on a real metastore.

  .venv/bin/python bench/bench_scheduler.py                     # SQLite
  .venv/bin/python bench/bench_scheduler.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Measures (a) a 1,000-task fan-out of no-op tasks, trigger to run success, in
tasks per second; (b) a 200-task chain: the latency from one task's end to the
next task's start, as recorded by the tasks themselves; (d) the scheduler's
peak RSS while it holds a 10,000-task run (--rss); (f) with --scale, issue 13's scale
goal: a 100,000-task fan-out run and 1,000 runs of 100 tasks, each beside a 1,000-task run
measured the same way, with peak RSS and CPU per task; (g) with --peak-after S, only the
scheduler's peak RSS over the first S seconds of the --huge fan-out. core.parallelism is 32
and the fan-out DAGs set max_active_tasks=32, so the default per-DAG limit of 16 does not
cap them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

with DAG("fan_out", max_active_tasks=32) as fan:
    root = noop()
    for _ in range({width}):
        root >> noop()

with DAG("chain") as ch:
    chain(*[timed() for _ in range({length})])

with DAG("hundred", max_active_tasks=32, max_active_runs=1000) as hundred:
    for _ in range(100):
        noop()
"""

#: In a file of its own: a 100,000-task DAG takes seconds to parse, which must not hold up
#: (or, past the parsing timeout, take down) the small DAGs.
HUGE_DAG_FILE = """
from taskkit import DAG, task

@task
def noop():
    return None

with DAG("huge", max_active_tasks=32) as huge:
    for _ in range({huge}):
        noop()
"""

#: Parsing (and serializing) a 100,000-task DAG takes ~20 s on this machine under load.
PARSING_TIMEOUT_S = 600.0


#: The schemas this run made, with the URL they were made on: dropped as it ends.
_MADE_SCHEMAS: list[tuple[str, str]] = []


def fresh_pg_schema(url: str) -> tuple[str, str]:
    """A new PostgreSQL schema for one benchmark run: its name, and `url` with it as the
    search path (each run starts from an empty metastore; nothing else is touched).
    `drop_made_schemas` drops it again."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    _MADE_SCHEMAS.append((url, schema))
    return schema, f"{url}?options=-csearch_path%3D{schema}"


def drop_made_schemas() -> None:
    """Drop the schemas this run made, so that benchmarks leave the database as they found
    it (a day of runs left ~90 schemas and 360 MB behind, and slowed the next ones)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    while _MADE_SCHEMAS:
        url, schema = _MADE_SCHEMAS.pop()
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # never hang on a straggler
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        except DBAPIError as exc:
            print(f"could not drop schema {schema}: {exc.orig}", file=sys.stderr)
        finally:
            engine.dispose()


def prepare(
    url: str | None, width: int, length: int, huge: int, reuse: int = 0
) -> tuple[object, Path]:
    from taskkit.config import load_settings
    from taskkit.metastore.migrate import init_db, reset_db

    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-"))
    dags = home / "dags"
    dags.mkdir()
    record = home / "chain.record"
    (dags / "bench_dags.py").write_text(
        textwrap.dedent(DAG_FILE.format(record=str(record), width=width, length=length))
    )
    (dags / "bench_huge.py").write_text(textwrap.dedent(HUGE_DAG_FILE.format(huge=huge)))
    overrides: dict[str, object] = {
        "core.dags_folder": str(dags),
        "core.parallelism": 32,
        "local.reuse_processes": reuse,
        "scheduler.parsing_timeout": PARSING_TIMEOUT_S,
    }
    if url:
        _, url = fresh_pg_schema(url)
        overrides["database.sql_alchemy_conn"] = url
    settings = load_settings(overrides, environ={"TASKKIT_HOME": str(home)})
    (reset_db if url else init_db)(settings.database.sql_alchemy_conn, 128)
    return settings, record


def trigger(settings: object, dag_id: str) -> str:
    """Create a manual run of `dag_id` (parsing the folder first); its run id."""
    from taskkit import serde
    from taskkit.metastore.store import Metastore
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import RunType

    store = Metastore.open(settings.database.sql_alchemy_conn)  # type: ignore[attr-defined]
    key = serde.load_secret_key(settings.home, None)  # type: ignore[attr-defined]
    sync_dags_folder(store, settings, key)  # type: ignore[arg-type]
    version = store.get_current_dag_version(dag_id)
    spec: Any = serde.loads_verified_spec(version.spec, version.spec_signature, key)  # type: ignore[arg-type]
    run_id = f"bench_{uuid.uuid4().hex[:6]}"
    store.create_run(
        dag_id,
        run_id,
        dt.datetime.now(dt.timezone.utc),
        run_type=RunType.MANUAL,
        dag_version_id=version.id,
        tasks=list(spec.tasks.values()),
    )
    store.dispose()
    with contextlib.suppress(ImportError):  # as `dags trigger` does (code before it had none)
        from taskkit.scheduling.wakeup import wake_scheduler

        wake_scheduler(settings.database.sql_alchemy_conn)  # type: ignore[attr-defined]
    return run_id


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its waited-for descendants (zygote and tries)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run_scheduler(settings: object) -> tuple[float, float, float]:
    """Wall seconds, scheduler CPU seconds and worker-side CPU seconds of one scheduler run."""
    from taskkit.scheduling.scheduler import Scheduler

    cpu_before = _cpu()
    started = time.perf_counter()
    summary = Scheduler(settings, exit_when_idle=True).run()  # type: ignore[arg-type]
    assert all(r.state == "success" for r in summary.runs), summary.render()
    wall = time.perf_counter() - started
    cpu_after = _cpu()
    return wall, cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]


def measure_speed(url: str | None, where: str, width: int, length: int, reuse: int) -> None:
    """(a) fan-out throughput and (b) chain hop latency, scheduler in this process."""
    settings, record = prepare(url, width - 1, length, 1, reuse)
    if reuse:
        where += f", reuse_processes={reuse}"
    children_before = _cpu()[1]
    trigger(settings, "fan_out")
    # The scheduler parses the folder again as it starts (in DAG processor children, counted
    # with the zygote and tries below); the trigger's own parse shows what that costs.
    parse_cpu = _cpu()[1] - children_before
    seconds, own_cpu, worker_cpu = run_scheduler(settings)
    print(
        f"[{where}] fan-out of {width} tasks: {seconds:.2f}s trigger to success "
        f"(including scheduler start-up), {width / seconds:.0f} tasks/s; CPU per task: "
        f"scheduler {own_cpu * 1000 / width:.2f} ms, zygote and tries "
        f"{worker_cpu * 1000 / width:.2f} ms (of which ~{parse_cpu * 1000 / width:.2f} ms "
        "is the start-up parse of the DAG folder)"
    )
    measure_running(settings, where, width)
    trigger(settings, "chain")
    run_scheduler(settings)
    stamps = [line.split() for line in record.read_text().splitlines()]
    starts = [float(v) for k, v in stamps if k == "start"]
    ends = [float(v) for k, v in stamps if k == "end"]
    hops = [(s - e) * 1000 for e, s in zip(ends[:-1], starts[1:], strict=True)]
    print(
        f"[{where}] chain of {length}: hop latency median {statistics.median(hops):.1f} ms, "
        f"p90 {sorted(hops)[int(len(hops) * 0.9)]:.1f} ms, "
        f"p99 {sorted(hops)[int(len(hops) * 0.99)]:.1f} ms"
    )


def trigger_many(settings: object, dag_id: str, count: int) -> None:
    """Create `count` manual runs of one DAG in one go (what 1,000 `dags trigger` would leave)."""
    from taskkit import serde
    from taskkit.metastore.store import Metastore
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import RunType

    store = Metastore.open(settings.database.sql_alchemy_conn)  # type: ignore[attr-defined]
    key = serde.load_secret_key(settings.home, None)  # type: ignore[attr-defined]
    sync_dags_folder(store, settings, key)  # type: ignore[arg-type]
    version = store.get_current_dag_version(dag_id)
    spec: Any = serde.loads_verified_spec(version.spec, version.spec_signature, key)  # type: ignore[arg-type]
    tasks = list(spec.tasks.values())
    start = dt.datetime.now(dt.timezone.utc)
    for n in range(count):
        store.create_run(
            dag_id,
            f"bench_{n:05d}",
            start + dt.timedelta(microseconds=n),
            run_type=RunType.MANUAL,
            dag_version_id=version.id,
            tasks=tasks,
        )
    store.dispose()


def _process_cpu_s(pid: int) -> float | None:
    """utime + stime of a live process (its own, not its children's), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(root: int) -> tuple[float, float]:
    """CPU seconds of `root` itself, and of its live descendants with what they waited for."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            cpu[pid] = sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    own = _process_cpu_s(root) or 0.0
    below = 0.0
    for pid, seconds in cpu.items():
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, root):
            ancestor = parents.get(ancestor)  # type: ignore[arg-type]
        if ancestor == root:
            below += seconds
    return own, below


def scheduler_env(settings: object) -> dict[str, str]:
    """What `taskkit scheduler` runs with here: the bench's home, database and parallelism."""
    return {
        **os.environ,
        "TASKKIT_HOME": str(settings.home),  # type: ignore[attr-defined]
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": settings.database.sql_alchemy_conn,  # type: ignore[attr-defined]
        "TASKKIT__CORE__PARALLELISM": "32",
        "TASKKIT__LOCAL__REUSE_PROCESSES": str(settings.local.reuse_processes),  # type: ignore[attr-defined]
        "TASKKIT__SCHEDULER__PARSING_TIMEOUT": str(PARSING_TIMEOUT_S),
    }


def wait_for_success(settings: object, dag_id: str, run_id: str, timeout: float = 600) -> Any:
    """Poll the run's state every 20 ms (a cheap read beside the scheduler's writes); its record."""
    from taskkit.metastore.store import Metastore

    store = Metastore.open(settings.database.sql_alchemy_conn)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    try:
        while (run := store.get_run(dag_id, run_id)).state != "success":
            assert run.state in ("queued", "running"), f"run {run_id} ended {run.state}"
            assert time.monotonic() < deadline, f"run {run_id} did not finish"
            time.sleep(0.02)
    finally:
        store.dispose()
    return run


@contextlib.contextmanager
def running_scheduler(settings: object, warmup: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `taskkit scheduler` (a service's: no --exit-when-idle), warmed up by one run of
    `warmup`, stopped on leaving."""
    process = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "scheduler"],
        env=scheduler_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_success(settings, warmup, trigger(settings, warmup))
        time.sleep(0.5)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def measure_running(settings: object, where: str, width: int) -> None:
    """(a') the fan-out triggered on a scheduler that already runs, as a service's would be.

    Start-up (imports, the zygote, parsing the folder) is left out; the trigger wakes the
    scheduler as `dags trigger` does. Both rates come from the run's own stamps: from its
    creation (the trigger's commit) and from its start, to its success.
    """
    with running_scheduler(settings, "hundred") as process:
        own_before, below_before = _tree_cpu_s(process.pid)
        run = wait_for_success(settings, "fan_out", trigger(settings, "fan_out"))
        seconds = (run.ended_at - run.created_at).total_seconds()
        running = (run.ended_at - run.started_at).total_seconds()
        time.sleep(0.2)  # the last tries' processes exit and are reaped
        own_after, below_after = _tree_cpu_s(process.pid)
    print(
        f"[{where}] fan-out of {width} tasks on a running scheduler: {seconds:.2f}s trigger to "
        f"success, {width / seconds:.0f} tasks/s ({running:.2f}s from the run's start, "
        f"{width / running:.0f} tasks/s); CPU per task: scheduler "
        f"{(own_after - own_before) * 1000 / width:.2f} ms, zygote and tries "
        f"{(below_after - below_before) * 1000 / width:.2f} ms"
    )


def run_scheduler_process(settings: object) -> tuple[float, float, float, float]:
    """A real `taskkit scheduler --exit-when-idle`: wall s, peak RSS MB, own CPU s, tries' CPU s.

    VmRSS and the scheduler's own CPU are sampled every 50 ms (the last sample before it
    exits stands for its total); the zygote's and the tries' CPU is what remains of the
    descendants' total once the scheduler is waited for.
    """
    env = scheduler_env(settings)
    folder = str(settings.core.dags_folder)  # type: ignore[attr-defined]
    children_before = _cpu()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "scheduler", "--dags-folder", folder, "--exit-when-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    peak_kb = 0
    own_cpu = 0.0
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, StopIteration):
            status = Path(f"/proc/{process.pid}/status").read_text()
            rss = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
            peak_kb = max(peak_kb, int(rss.split()[1]))
        own_cpu = _process_cpu_s(process.pid) or own_cpu
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    assert process.returncode == 0, f"scheduler exited with {process.returncode}"
    all_cpu = _cpu()[1] - children_before
    return seconds, peak_kb / 1024, own_cpu, all_cpu - own_cpu


def measure_rss(url: str | None, where: str) -> None:
    """(d) peak RSS of a real `taskkit scheduler` process while it runs a 10,000-task run."""
    settings, _ = prepare(url, 1, 1, 10_000)
    trigger(settings, "huge")
    seconds, peak_mb, _, _ = run_scheduler_process(settings)
    print(
        f"[{where}] 10,000-task run: {seconds:.1f}s ({10_000 / seconds:.0f} tasks/s), "
        f"scheduler process peak RSS {peak_mb:.0f} MB"
    )


def measure_peak(url: str | None, where: str, huge: int, seconds: float) -> None:
    """(g) the scheduler's peak RSS over the first `seconds` of a `huge`-task fan-out run
    (its first decisions are the peak), without waiting for the run to end."""
    settings, _ = prepare(url, 1, 1, huge)
    trigger(settings, "huge")
    folder = str(settings.core.dags_folder)  # type: ignore[attr-defined]
    process = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "scheduler", "--dags-folder", folder],
        env=scheduler_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak_kb = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and process.poll() is None:
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak_kb = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])
            time.sleep(0.5)
    finally:
        process.kill()
        process.wait()
    print(
        f"[{where}] {huge:,}-task fan-out, first {seconds:.0f} s: scheduler peak RSS "
        f"{peak_kb / 1024:.0f} MB"
    )


def measure_scale(url: str | None, where: str, huge: int, runs: int) -> None:
    """(f) a `huge`-task fan-out run and `runs` runs of 100 tasks, each beside 1,000 tasks."""

    def report(label: str, tasks: int, figures: tuple[float, float, float, float]) -> None:
        seconds, peak_mb, own, tries = figures
        print(
            f"[{where}] {label}: {seconds:.1f}s, {tasks / seconds:.0f} tasks/s; scheduler peak "
            f"RSS {peak_mb:.0f} MB; CPU per task: scheduler {own * 1000 / tasks:.2f} ms, "
            f"zygote and tries {tries * 1000 / tasks:.2f} ms",
            flush=True,
        )

    # A home each: every scheduler start parses its folder, and the huge DAG's parse and
    # payload would weigh on the other two's figures.
    settings, _ = prepare(url, 999, 1, 1)
    trigger(settings, "fan_out")
    report("1,000-task fan-out (reference)", 1000, run_scheduler_process(settings))
    settings, _ = prepare(url, 1, 1, huge)
    trigger(settings, "huge")
    report(f"{huge:,}-task fan-out", huge, run_scheduler_process(settings))
    settings, _ = prepare(url, 1, 1, 1)
    trigger_many(settings, "hundred", runs)
    report(f"{runs:,} runs of 100 tasks", runs * 100, run_scheduler_process(settings))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a PostgreSQL URL; SQLite in a temp dir by default")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--rss", action="store_true", help="measure RSS holding a 10,000-task run")
    parser.add_argument("--reuse", type=int, default=0, help="[local] reuse_processes (0: off)")
    parser.add_argument(
        "--scale", action="store_true", help="the 100,000-task runs of issue 13 (slow: minutes)"
    )
    parser.add_argument("--huge", type=int, default=100_000, help="tasks of the --scale fan-out")
    parser.add_argument("--runs", type=int, default=1000, help="100-task runs of --scale")
    parser.add_argument(
        "--peak-after",
        type=float,
        metavar="SECONDS",
        help="only the scheduler's peak RSS over the first SECONDS of the --huge fan-out",
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    where = "PostgreSQL" if args.url else "SQLite"
    if args.peak_after:
        measure_peak(args.url, where, args.huge, args.peak_after)
    elif args.scale:
        measure_scale(args.url, where, args.huge, args.runs)
    elif args.rss:
        measure_rss(args.url, where)
    else:
        measure_speed(args.url, where, args.width, args.length, args.reuse)
    sys.stdout.flush()
    drop_made_schemas()
    os._exit(0)


if __name__ == "__main__":
    main()
