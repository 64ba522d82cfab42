"""Benchmark waiting: 1,000 deferred waits on one triggerer, and reschedule-mode pokes.

  .venv/bin/python bench/bench_triggerer.py triggerer               # SQLite
  .venv/bin/python bench/bench_triggerer.py triggerer --url postgresql+psycopg://postgres@127.0.0.1:5432/test
  .venv/bin/python bench/bench_triggerer.py reschedule

`triggerer`: stores 1,000 deferred task instances with their triggers (as the
scheduler writes them when tasks defer: DateTimeTriggers an hour away, or
FileTriggers polling every 5 s with `--kind file`), starts a real `taskkit
triggerer` process, waits until it runs them all, then samples its resident
memory (VmRSS) and its CPU time (utime + stime from /proc) over `--seconds`
of idle waiting: CPU seconds per wall second.

`reschedule`: a real scheduler (in this process; its Local executor's zygote
and tries are other processes) runs, on a fresh metastore each, (a) one
PythonSensor in reschedule mode with poke_interval=1 that never succeeds
within the window, and (b) a chain of 1-second tasks, so a task finishes
every second. The scheduler's CPU time (time.process_time) and its SQL
statements are counted over the same steady window of each; the ratio (a)/(b)
answers "does a poking sensor cost the scheduler more than a task finishing
every second?".

With --url the database is reset (taskkit's tables dropped and recreated): give it a scratch one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

WAITS_DAG = """
import datetime as dt
from taskkit import DAG, EmptyOperator

with DAG("waits", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    for number in range({count}):
        EmptyOperator(task_id=f"wait_{{number:04d}}")
"""

SENSOR_DAG = """
import datetime as dt
from taskkit import DAG, PythonSensor

with DAG("poking", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonSensor(task_id="sensor", python_callable=lambda: False, mode="reschedule",
                 poke_interval=1, timeout={seconds})
"""

CHAIN_DAG = """
import datetime as dt
import time
from taskkit import DAG, PythonOperator, chain

with DAG("chain", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    chain(*[PythonOperator(task_id=f"t{{n:03d}}", python_callable=lambda: time.sleep(1))
            for n in range({count})])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["triggerer", "reschedule"])
    parser.add_argument("--url", help="metastore URL (default: SQLite in a temporary folder)")
    parser.add_argument("--count", type=int, default=1000, help="deferred waits (triggerer)")
    parser.add_argument("--kind", choices=["datetime", "file"], default="datetime")
    parser.add_argument("--seconds", type=float, default=20.0, help="the sampled window")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.what == "triggerer":
        _triggerer(args.url, args.count, args.kind, args.seconds)
    else:
        _reschedule(args.url, args.seconds)


def _home(url: str | None, dag_files: dict[str, str]) -> tuple[Path, str]:
    from taskkit.metastore import init_db, reset_db
    from taskkit.metastore.tables import current_revision

    home = Path(tempfile.mkdtemp(prefix="taskkit-wait-"))
    (home / "dags").mkdir()
    for name, text in dag_files.items():
        (home / "dags" / f"{name}.py").write_text(text)
    if url:
        from sqlalchemy import create_engine

        engine = create_engine(url)
        with engine.connect() as connection:
            initialised = current_revision(connection) is not None
        engine.dispose()
        if initialised:
            reset_db(url)
        else:
            init_db(url)
    else:
        url = f"sqlite:///{home / 'taskkit.db'}"
        init_db(url)
    return home, url


def _env(home: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "TASKKIT_HOME": str(home),
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": url,
        "TASKKIT__CORE__DAGS_FOLDER": str(home / "dags"),
    }


def _cpu_s(pid: int) -> float:
    """The process's own user + system CPU seconds (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _sample(pid: int, seconds: float) -> float:
    """CPU seconds per wall second of `pid` over the next `seconds`."""
    cpu, wall = _cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (_cpu_s(pid) - cpu) / (time.monotonic() - wall)


def _triggerer(url: str | None, count: int, kind: str, seconds: float) -> None:
    from taskkit import serde, tagged_json
    from taskkit.config import load_settings
    from taskkit.metastore import Metastore, TIChange
    from taskkit.metastore.records import TriggerWrite
    from taskkit.scheduling.dag_processor import sync_dags_folder
    from taskkit.states import RunType, State

    home, url = _home(url, {"waits": WAITS_DAG.format(count=count)})
    settings = load_settings(
        overrides={"database.sql_alchemy_conn": url}, environ={"TASKKIT_HOME": str(home)}
    )
    store = Metastore.open(url)
    key = serde.load_secret_key(home, None)
    sync_dags_folder(store, settings, key)
    version = store.get_current_dag_version("waits")
    dag: Any = serde.loads_verified_dag(version.payload, version.signature, key)
    run = store.create_run(
        "waits",
        "bench",
        dt.datetime.now(dt.timezone.utc),
        run_type=RunType.MANUAL,
        dag_version_id=version.id,
        tasks=list(dag.spec.tasks.values()),
    )
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    if kind == "datetime":
        classpath = "taskkit.triggers.temporal.DateTimeTrigger"
        kwargs = tagged_json.dumps({"moment": later}).decode()
    else:
        classpath = "taskkit.triggers.file.FileTrigger"
        kwargs = tagged_json.dumps(
            {"filepath": str(home / "never" / "*.csv"), "poke_interval": 5.0}
        ).decode()
    tis = store.list_task_instances("waits", run.run_id)
    changes = [
        TIChange(
            ti.key,
            expected=State.NONE,
            state=State.DEFERRED,
            try_number=1,
            next_method="execute_complete",
            next_kwargs="{}",
        )
        for ti in tis
    ]
    triggers = [TriggerWrite(ti.key, 1, classpath, kwargs) for ti in tis]
    assert all(store.transition_task_instances(changes, triggers=triggers))
    waiting = len(store.list_waiting_trigger_ids())
    print(f"{waiting} deferred task instances stored ({kind} triggers); starting the triggerer")

    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "triggerer", "--log-level", "info"],
        env=_env(home, url),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "triggers_running" in line and f"count={count}" in line:
                break
        print(f"  all {count} running after {time.monotonic() - started:.2f} s (start-up included)")
        time.sleep(2.0)  # let start-up work settle
        per_second = _sample(process.pid, seconds)
        rss = _rss_mib(process.pid)
        print(f"  idle CPU over {seconds:.0f} s: {per_second:.4f} CPU s per wall s")
        print(f"  RSS: {rss:.1f} MiB (the whole process: interpreter, SQLAlchemy, the loop)")
    finally:
        process.terminate()
        process.wait(timeout=30)
        store.dispose()


def _reschedule(url: str | None, seconds: float) -> None:
    results = {dag_id: _scheduler_load(url, dag_id, seconds) for dag_id in ("poking", "chain")}
    (poke, poke_sql), (chain, chain_sql) = results["poking"], results["chain"]
    print(f"scheduler over {seconds:.0f} s (the scheduler process: CPU s per wall s; SQL/s):")
    print(f"  reschedule-mode sensor, poke_interval=1: {poke:.4f} CPU s/s, {poke_sql}")
    print(f"  a task finishing every second:           {chain:.4f} CPU s/s, {chain_sql}")
    print(f"  ratio sensor / task-per-second:          {poke / chain:.2f}")


def _scheduler_load(url: str | None, dag_id: str, seconds: float) -> tuple[float, str]:
    """A real scheduler (in this process, its executor's zygote outside) running one DAG's
    run: its CPU per wall second and SQL statements per second over a steady window."""
    import collections
    import threading

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from taskkit.config import load_settings
    from taskkit.scheduling.scheduler import Scheduler

    window = seconds + 20
    dags = {
        "poking": SENSOR_DAG.format(seconds=window * 4),
        "chain": CHAIN_DAG.format(count=int(window)),
    }
    home, url = _home(url, {dag_id: dags[dag_id]})
    env = _env(home, url)
    taskkit = [sys.executable, "-m", "taskkit"]
    for command in (["dags", "list"], ["dags", "unpause", dag_id], ["dags", "trigger", dag_id]):
        subprocess.run([*taskkit, *command], env=env, check=True, capture_output=True)
    statements: collections.Counter[str] = collections.Counter()

    def count(*args: object) -> None:  # every engine of this process: the scheduler's
        statements[str(args[2]).split()[0]] += 1

    event.listen(Engine, "before_cursor_execute", count)
    settings = load_settings(
        overrides={"database.sql_alchemy_conn": url, "scheduler.standalone_dag_processor": True},
        environ={"TASKKIT_HOME": str(home)},
    )
    scheduler = Scheduler(settings)
    marks: list[tuple[float, float, dict[str, int]]] = []

    def sample() -> None:
        time.sleep(8.0)  # start-up, the zygote, the first tries
        marks.append((time.process_time(), time.monotonic(), dict(statements)))
        time.sleep(seconds)
        marks.append((time.process_time(), time.monotonic(), dict(statements)))
        scheduler.stopping = "benchmark"

    threading.Thread(target=sample, daemon=True).start()
    scheduler.run()
    event.remove(Engine, "before_cursor_execute", count)
    (cpu0, wall0, sql0), (cpu1, wall1, sql1) = marks
    wall = wall1 - wall0
    rates = {k: round((sql1.get(k, 0) - sql0.get(k, 0)) / wall, 1) for k in sorted(sql1)}
    return (cpu1 - cpu0) / wall, str(rates)


if __name__ == "__main__":
    main()
