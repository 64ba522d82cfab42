"""Several real scheduler processes on one PostgreSQL metastore (issue 14, docs/distributed.md).

Each scheduler runs in its own process with its own Local executor workers.
A sampler thread reads the metastore every 50 ms while they work; the record
file written by every try shows what really ran, and when.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import PG_URL, pg_schema
from harness import Home, max_overlap, stop, wait_for
from sqlalchemy import text

from taskkit.metastore import Metastore
from taskkit.states import FINISHED_RUN_STATES, RunState, SchedulerState, State

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="set TASKKIT_TEST_PG_URL to run several schedulers"),
]

#: Short, so failover and fencing happen within a test's time.
THRESHOLD_S = 2.0
#: How long the deadlock test hammers the critical section (the issue asks for 60 s in CI).
HAMMER_S = float(os.environ.get("TASKKIT_TEST_HA_HAMMER_S", "15"))

SCRIPT = """
import sys
from taskkit.config import load_settings
from taskkit.scheduling.scheduler import Scheduler
settings = load_settings(overrides={overrides!r}, environ={{"TASKKIT_HOME": {home!r}}})
summary = Scheduler(settings, shutdown_grace_s=10.0).run()
print(summary.render())
"""

SEED = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def seed():
    for name, weight in (("a", 7), ("b", 6), ("c", 8)):
        PythonOperator(
            task_id=f"process_{name}",
            python_callable=sleeper,
            op_kwargs={"seconds": 0.05},
            pool="test_pool",
            priority_weight=weight,
        )

seed()
"""

FAN = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def fan():
    start = PythonOperator(task_id="start", python_callable=sleeper, op_kwargs={"seconds": 0.01})
    for i in range(8):
        slots = 1 + i % 2
        start >> PythonOperator(
            task_id=f"leg_{i}",
            python_callable=sleeper,
            pool="fan",
            pool_slots=slots,
            priority_weight=i,
            op_kwargs={"seconds": 0.2, "slots": slots},
        )

fan()
"""

CHAIN = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def chain():
    previous = None
    for i in range(4):
        step = PythonOperator(
            task_id=f"step_{i}", python_callable=sleeper, op_kwargs={"seconds": 0.6}
        )
        if previous is not None:
            previous >> step
        previous = step

chain()
"""

TINY = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def tiny():
    for i in range(6):
        PythonOperator(
            task_id=f"t{i}", python_callable=sleeper, pool="narrow", pool_slots=1 + i % 2,
            op_kwargs={"seconds": 0.0},
        )

tiny()
"""


@pytest.fixture
def pg_home(tmp_path: Path) -> Iterator[Home]:
    """An initialised TASKKIT_HOME on a PostgreSQL schema of its own, Local executor."""
    with pg_schema() as url:
        home = Home.create(tmp_path / "home", url, "local")
        try:
            yield home
        finally:
            home.close()


class Schedulers:
    """Scheduler processes started for one test, all stopped (and reaped) at its end."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.processes: list[subprocess.Popen[str]] = []
        #: Each one's output goes to a file: a pipe nobody reads would fill up and block it.
        self.logs: dict[int, Path] = {}

    def start(self, count: int, **settings: object) -> list[subprocess.Popen[str]]:
        overrides = {
            "database.sql_alchemy_conn": self.home.db_url,
            "core.executor": "local",
            "core.parallelism": 8,
            "scheduler.dag_dir_list_interval": 3600.0,
            "scheduler.standalone_dag_processor": True,
            "scheduler.heartbeat_sec": 0.2,
            "scheduler.scheduler_health_check_threshold": THRESHOLD_S,
            **settings,
        }
        script = SCRIPT.format(overrides=overrides, home=str(self.home.path))
        started = []
        for _ in range(count):
            log = self.home.path / f"scheduler-{len(self.processes) + len(started)}.log"
            with log.open("w") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-c", script],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
            self.logs[process.pid] = log
            started.append(process)
        self.processes += started
        pids = {p.pid for p in self.processes}
        wait_for(lambda: pids <= {s.pid for s in self.home.store.list_schedulers()}, timeout=30)
        return started

    def row_of(self, process: subprocess.Popen[str]) -> int:
        found = self.home.store.list_schedulers(include_ended=True)
        return next(s.id for s in found if s.pid == process.pid)

    def kill_a_busy_one(self) -> tuple[subprocess.Popen[str], int]:
        """SIGKILL the first live scheduler that owns runs (once one does): it, reaped, and its
        scheduler id."""

        def busy_owner() -> int | None:
            for s in self.home.store.list_schedulers():
                if s.running and s.runs:
                    return s.id
            return None

        victim_id = wait_for(busy_owner, timeout=60)
        victim = next(p for p in self.processes if self.row_of(p) == victim_id)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        return victim, victim_id

    def stop_all(self) -> dict[int, tuple[int, str]]:
        """SIGTERM the live ones; returns each one's (exit code, output) by pid."""
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        results = {}
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop(process)
            results[process.pid] = (process.returncode, self.output(process))
        return results

    def output(self, process: subprocess.Popen[str]) -> str:
        return self.logs[process.pid].read_text(encoding="utf-8")

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                stop(process)


@pytest.fixture
def schedulers(pg_home: Home) -> Iterator[Schedulers]:
    group = Schedulers(pg_home)
    try:
        yield group
    finally:
        group.kill_all()


class Sampler:
    """Reads the metastore every 50 ms: pool slots held, and tries queued in two places."""

    def __init__(self, url: str, slots: dict[str, int]) -> None:
        self.store = Metastore.open(url)
        self.slots = slots
        self.samples = 0
        self.violations: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(10)
        self.store.dispose()

    def _run(self) -> None:
        query = text(
            "SELECT pool, SUM(pool_slots) FROM task_instance "
            "WHERE state IN ('queued', 'running') GROUP BY pool"
        )
        while not self._done.wait(0.05):
            with self.store.engine.connect() as connection:
                held = dict(connection.execute(query).all())
            self.samples += 1
            for pool, limit in self.slots.items():
                if held.get(pool, 0) > limit:
                    self.violations.append(f"pool {pool} holds {held[pool]} of {limit} slots")


def _all_finished(store: Metastore) -> bool:
    runs = store.list_runs()
    return bool(runs) and all(r.state in FINISHED_RUN_STATES for r in runs)


def _no_try_twice(home: Home) -> None:
    """No try (dag, run, task, try number) ran in two processes."""
    counted = Counter((t.dag, t.run, t.task, t.try_number) for t in home.tries())
    assert [k for k, n in counted.items() if n > 1] == []


def test_three_schedulers_share_pools_limits_and_priorities(
    pg_home: Home, schedulers: Schedulers
) -> None:
    """Three schedulers run 20 seed runs and two fan-outs: no pool is ever over its slots,
    no try runs twice, each run's priorities hold, and the runs are spread over them."""
    pg_home.write_dag("seed", SEED)
    pg_home.write_dag("fan", FAN)
    pg_home.sync()
    pg_home.pool("test_pool", 1)
    pg_home.pool("fan", 3)
    schedulers.start(3)
    with Sampler(pg_home.db_url, {"test_pool": 1, "fan": 3}) as sampler:
        seeds = [pg_home.trigger("seed") for _ in range(20)]
        fans = [pg_home.trigger("fan") for _ in range(2)]
        wait_for(lambda: _all_finished(pg_home.store), timeout=180, interval=0.2)
    results = schedulers.stop_all()

    assert all(code == 0 for code, _ in results.values()), results
    assert sampler.samples > 10 and sampler.violations == []
    for run in seeds + fans:
        assert pg_home.run_state(run.dag_id, run.run_id) is RunState.SUCCESS
    for run in seeds:  # a run's owner orders its tasks by priority
        order = pg_home.started_order("seed", run.run_id)
        assert order == ["process_c", "process_a", "process_b"]
    assert max_overlap(pg_home.tries("seed")) == 1
    assert (
        max_overlap([t for t in pg_home.tries("fan") if t.task != "start"], lambda t: t.slots) <= 3
    )
    _no_try_twice(pg_home)
    owners = {r.scheduler_id for r in pg_home.store.list_runs()}
    assert len(owners) >= 2 and None not in owners


def test_a_killed_schedulers_runs_are_finished_by_the_others(
    pg_home: Home, schedulers: Schedulers
) -> None:
    """SIGKILL one of three schedulers mid-run: the others declare it dead, reset its tries
    and finish its runs, and no task that succeeded runs again."""
    pg_home.write_dag("chain", CHAIN)
    pg_home.sync()
    schedulers.start(3)
    runs = [pg_home.trigger("chain") for _ in range(6)]

    _, victim_id = schedulers.kill_a_busy_one()
    succeeded = {
        (ti.run_id, ti.task_id): ti.try_number
        for run in runs
        for ti in pg_home.store.list_task_instances("chain", run.run_id)
        if ti.state is State.SUCCESS
    }

    wait_for(lambda: _all_finished(pg_home.store), timeout=90, interval=0.2)
    schedulers.stop_all()

    states = {s.id: s.state for s in pg_home.store.list_schedulers(include_ended=True)}
    assert states[victim_id] is SchedulerState.DEAD
    for run in runs:
        assert pg_home.run_state("chain", run.run_id) is RunState.SUCCESS
        for ti in pg_home.store.list_task_instances("chain", run.run_id):
            before = succeeded.get((ti.run_id, ti.task_id))
            assert before is None or ti.try_number == before  # never rerun
    reruns = [
        t for t in pg_home.tries("chain") if t.try_number > succeeded.get((t.run, t.task), 99)
    ]
    assert reruns == []
    _no_try_twice(pg_home)


def test_a_scheduler_paused_past_the_threshold_writes_nothing_when_it_resumes(
    pg_home: Home, schedulers: Schedulers
) -> None:
    """SIGSTOP a scheduler until another declares it dead, then SIGCONT it: its first write
    is refused, it stops with a clear message, and the other finishes its runs."""
    pg_home.write_dag("chain", CHAIN)
    pg_home.sync()
    first, second = schedulers.start(2)
    runs = [pg_home.trigger("chain") for _ in range(4)]
    first_id = schedulers.row_of(first)
    wait_for(
        lambda: any(s.id == first_id and s.running for s in pg_home.store.list_schedulers()),
        timeout=60,
    )
    os.kill(first.pid, signal.SIGSTOP)
    paused_at = dt.datetime.now(dt.timezone.utc)

    def declared_dead() -> bool:
        found = pg_home.store.list_schedulers(include_ended=True)
        return any(s.id == first_id and s.state is SchedulerState.DEAD for s in found)

    wait_for(declared_dead, timeout=30, interval=0.1)
    os.kill(first.pid, signal.SIGCONT)
    first.wait(timeout=60)
    out = schedulers.output(first)

    assert first.returncode != 0
    assert "declared dead by another scheduler" in out
    wait_for(lambda: _all_finished(pg_home.store), timeout=90, interval=0.2)
    assert schedulers.stop_all()[second.pid][0] == 0
    for run in runs:
        record = pg_home.store.get_run("chain", run.run_id)
        assert record.state is RunState.SUCCESS
        # Whatever finished after the pause was finished by the other scheduler.
        assert record.ended_at is not None
        assert record.ended_at < paused_at or record.scheduler_id != first_id
    _no_try_twice(pg_home)


def test_four_schedulers_hammering_the_critical_section_never_deadlock(
    pg_home: Home, schedulers: Schedulers
) -> None:
    """Four schedulers queue tiny tasks through a narrow pool while runs keep arriving: no
    deadlock is ever detected, none of them dies, and every one of them finishes runs."""
    pg_home.write_dag("tiny", TINY)
    pg_home.sync()
    pg_home.pool("narrow", 3)
    started = schedulers.start(4)
    with Sampler(pg_home.db_url, {"narrow": 3}) as sampler:
        deadline = time.monotonic() + HAMMER_S
        while time.monotonic() < deadline:
            active = [r for r in pg_home.store.list_runs() if r.state not in FINISHED_RUN_STATES]
            for _ in range(max(0, 16 - len(active))):
                pg_home.trigger("tiny")
            time.sleep(0.2)
        wait_for(lambda: _all_finished(pg_home.store), timeout=120, interval=0.2)
        assert all(p.poll() is None for p in started)
    results = schedulers.stop_all()

    outputs = "\n".join(out for _, out in results.values())
    assert "deadlock" not in outputs.lower()
    failed = [out for code, out in results.values() if code != 0]
    assert failed == []
    assert sampler.violations == []
    finished_by = Counter(
        r.scheduler_id for r in pg_home.store.list_runs() if r.state is RunState.SUCCESS
    )
    ids = {schedulers.row_of(p) for p in started}
    assert ids <= set(finished_by), finished_by
    _no_try_twice(pg_home)
