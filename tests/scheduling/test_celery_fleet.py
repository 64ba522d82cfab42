"""Running a Celery fleet end to end: autoscaling, worker health, stopping, queues, priorities.

Real `taskkit celery worker` processes on the machine's Redis and RabbitMQ, a
PostgreSQL metastore, and real schedulers; every test has its own home, queue
names and event channel, so tests never see each other's messages.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from databases import PG_URL, pg_schema
from harness import Home, max_overlap, wait_for

from taskkit.model.workers import WorkerReport
from taskkit.scheduling.summary import SchedulerSummary
from taskkit.states import RunState, State

pytest.importorskip("celery", reason="install taskkit[celery] to test the Celery executor")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
needs_redis = pytest.mark.skipif(not _answers(6379), reason="Redis is not on 127.0.0.1:6379")
needs_rabbitmq = pytest.mark.skipif(not _answers(5672), reason="RabbitMQ is not on 127.0.0.1:5672")

pytestmark = [
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason="the Celery tests need TASKKIT_TEST_PG_URL (PostgreSQL metastore)"
    ),
]

DAGS = """
with DAG("burst", schedule=None, start_date=dt.datetime(2026, 1, 1)) as burst:
    for i in range(8):
        PythonOperator(task_id=f"t{i}", python_callable=sleeper, op_kwargs={"seconds": 2.0})


def slow(ti, seconds=4):
    start = time.time()
    time.sleep(seconds)
    note(ti, start)


with DAG("long", schedule=None, start_date=dt.datetime(2026, 1, 1)) as long:
    PythonOperator(task_id="sleeps", python_callable=slow)

with DAG("endless", schedule=None, start_date=dt.datetime(2026, 1, 1)) as endless:
    PythonOperator(task_id="sleeps", python_callable=slow, op_kwargs={"seconds": 600})

def whoami(ti):
    start = time.time()
    time.sleep(0.3)
    note(ti, start, worker=os.environ.get("FLEET_WORKER"))


with DAG("routed", schedule=None, start_date=dt.datetime(2026, 1, 1),
         default_args={"queue": QUEUE_B}) as routed:
    for i in range(3):
        PythonOperator(task_id=f"on_a_{i}", python_callable=whoami, queue=QUEUE_A)
        PythonOperator(task_id=f"on_b_{i}", python_callable=whoami)

with DAG("low", schedule=None, start_date=dt.datetime(2026, 1, 1)) as low:
    PythonOperator(task_id="blocker", python_callable=sleeper, op_kwargs={"seconds": 8.0},
                   priority_weight=1000)
    for i in range(4):
        PythonOperator(task_id=f"low_{i}", python_callable=sleeper, priority_weight=1)

with DAG("high", schedule=None, start_date=dt.datetime(2026, 1, 1)) as high:
    PythonOperator(task_id="urgent", python_callable=sleeper, priority_weight=600)
"""


class Fleet:
    """A celery home on PostgreSQL plus the workers a test starts (killed at the end)."""

    def __init__(self, home: Home, broker: str) -> None:
        self.home = home
        self.broker = broker
        self.queue = f"fleet-{uuid.uuid4().hex[:8]}"
        self.queue_a = f"{self.queue}-a"
        self.queue_b = f"{self.queue}-b"
        self.workers: list[subprocess.Popen[str]] = []

    def configure(self, **celery: object) -> None:
        lines = [f"broker_url = {self.broker!r}", f"default_queue = {self.queue!r}"]
        lines += [f"{key} = {value!r}" for key, value in celery.items()]
        (self.home.path / "taskkit.toml").write_text(
            f"[database]\nsql_alchemy_conn = {self.home.db_url!r}\n"
            "[celery]\n" + "\n".join(lines) + "\n"
            "[scheduler]\nheartbeat_sec = 0.5\ntask_heartbeat_timeout = 5.0\n",
            encoding="utf-8",
        )

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT__")}
        return {**env, "TASKKIT_HOME": str(self.home.path), **extra}

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """A real `taskkit celery worker ARGS` in its own process group."""
        process = subprocess.Popen(
            [sys.executable, "-m", "taskkit", "celery", "worker", *args],
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.workers.append(process)
        wait_for(lambda: self.report_of(process) is not None, timeout=60)
        return process

    def report_of(self, process: subprocess.Popen[str]) -> WorkerReport | None:
        found = [r for r in self.home.store.list_celery_workers() if r.pid == process.pid]
        return found[0] if found else None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "taskkit", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def workers_json(self, *args: str) -> list[dict[str, object]]:
        done = self.cli("celery", "workers", "-o", "json", *args)
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, object]] = json.loads(done.stdout)
        return rows

    def kill_all(self) -> str:
        out = []
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            out.append(process.communicate(timeout=10)[0])
        return "\n".join(out)


@pytest.fixture
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    broker = getattr(request, "param", REDIS)
    with pg_schema() as url:
        home = Home.create(tmp_path / "home", url, "celery")
        fleet = Fleet(home, broker)
        fleet.configure()
        prelude = f"QUEUE_A = {fleet.queue_a!r}\nQUEUE_B = {fleet.queue_b!r}\n"
        home.write_dag("fleet", prelude + DAGS)
        home.sync()
        try:
            yield fleet
        finally:
            fleet.kill_all()
            home.close()


def _in_background(home: Home, **overrides: object) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def run() -> None:
        try:
            result.append(home.run_scheduler(**overrides))
        except BaseException as exc:  # surfaced by the test
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _silent_for(report: WorkerReport | None, seconds: float) -> bool:
    now = dt.datetime.now(dt.timezone.utc)
    return report is not None and (now - report.last_heartbeat).total_seconds() > seconds


def _states(home: Home, dag_id: str, run_id: str) -> Sequence[State]:
    return [ti.state for ti in home.tis(dag_id, run_id).values()]


@needs_redis
def test_autoscaled_worker_grows_under_a_burst_and_shrinks_when_idle(fleet: Fleet) -> None:
    """With --autoscale 4,1, a burst of 8 tries grows the worker to 4 at once (never more), and
    once idle Celery's autoscaler shrinks it back to 1."""
    worker = fleet.start_worker("--autoscale", "4,1", AUTOSCALE_KEEPALIVE="1")
    report = fleet.report_of(worker)
    assert report is not None
    assert (report.concurrency, report.autoscale) == (1, "4,1")
    run = fleet.home.trigger("burst")

    summary = fleet.home.run_scheduler(core_parallelism=8)

    assert isinstance(summary, SchedulerSummary)
    assert fleet.home.run_state("burst", run.run_id) is RunState.SUCCESS
    tries = fleet.home.tries("burst")
    assert len(tries) == 8
    assert max_overlap(tries) == 4  # grew from 1 to the maximum, and no further
    wait_for(lambda: fleet.report_of(worker).concurrency == 1, timeout=60)  # type: ignore[union-attr]


def test_config_list_says_autoscale_overrides_concurrency(fleet: Fleet) -> None:
    """`config list` marks celery.worker_concurrency as not used once worker_autoscale is set."""
    fleet.configure(worker_autoscale="8,2")

    done = fleet.cli("config", "list", "-o", "json")

    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["celery.worker_autoscale"]["value"] == "8,2"
    assert "not used: celery.worker_autoscale" in rows["celery.worker_concurrency"]["source"]


@needs_redis
def test_workers_lists_live_workers_and_shows_a_killed_one_as_lost(fleet: Fleet) -> None:
    """`celery workers -o json` gives host, queues, concurrency, running tries and the last
    heartbeat of each worker; one SIGKILLed mid-try is shown as lost and its try fails."""
    worker = fleet.start_worker("--queues", f"{fleet.queue},other", "--concurrency", "3")
    run = fleet.home.trigger("endless")
    scheduler, _ = _in_background(fleet.home)
    try:
        wait_for(lambda: State.RUNNING in _states(fleet.home, "endless", run.run_id), timeout=60)
        wait_for(lambda: fleet.report_of(worker).running, timeout=30)  # type: ignore[union-attr]
        [row] = fleet.workers_json()
        assert row["host"] == socket.gethostname()
        assert row["pid"] == worker.pid
        assert row["status"] == "online"
        assert row["queues"] == [fleet.queue, "other"]
        assert row["concurrency"] == 3
        assert row["running_tries"] == [f"endless/{run.run_id}/sleeps#1"]
        assert row["last_heartbeat"]

        os.killpg(worker.pid, signal.SIGKILL)
        wait_for(lambda: not scheduler.is_alive(), timeout=120)  # the try was failed as lost
        wait_for(lambda: _silent_for(fleet.report_of(worker), 5.0), timeout=60)
        [row] = fleet.workers_json()
        assert row["status"] == "lost"
    finally:
        scheduler.join(120)
    ti = fleet.home.tis("endless", run.run_id)["sleeps"]
    assert ti.state is State.FAILED
    assert "sent no heartbeat" in (ti.error or "")


@needs_redis
def test_celery_stop_lets_running_tries_finish_and_loses_none(fleet: Fleet) -> None:
    """`taskkit celery stop NAME` mid-burst: the worker finishes the tries it runs and exits;
    a second worker runs the rest, and every task of the run runs exactly once."""
    first = fleet.start_worker("--concurrency", "2")
    run = fleet.home.trigger("burst")
    scheduler, result = _in_background(fleet.home, core_parallelism=8)
    try:
        wait_for(lambda: len(fleet.report_of(first).running) == 2, timeout=60)  # type: ignore[union-attr]
        name = fleet.report_of(first).name  # type: ignore[union-attr]

        done = fleet.cli("celery", "stop", name)

        assert done.returncode == 0, done.stderr
        assert f"stopped: {name}" in done.stdout
        assert first.wait(30) == 0
        assert fleet.report_of(first).state.value == "stopped"  # type: ignore[union-attr]
        assert len(fleet.home.tries("burst")) >= 2  # its two running tries finished
        fleet.start_worker("--concurrency", "2")
    finally:
        scheduler.join(180)
    assert not isinstance(result[0], BaseException), result
    assert fleet.home.run_state("burst", run.run_id) is RunState.SUCCESS
    tis = fleet.home.tis("burst", run.run_id)
    assert {ti.try_number for ti in tis.values()} == {1}
    assert Counter(t.task for t in fleet.home.tries("burst")) == {f"t{i}": 1 for i in range(8)}


@needs_redis
def test_sigterm_fails_a_try_that_outlasts_the_shutdown_timeout(fleet: Fleet) -> None:
    """SIGTERM to a worker whose try would run for minutes: after
    celery.worker_shutdown_timeout the try is killed and failed with that reason, and the worker
    exits cleanly instead of hanging or leaving the try running."""
    fleet.configure(worker_shutdown_timeout=1.0)
    worker = fleet.start_worker("--concurrency", "1")
    run = fleet.home.trigger("endless")
    scheduler, _ = _in_background(fleet.home)
    try:
        wait_for(lambda: fleet.report_of(worker).running, timeout=60)  # type: ignore[union-attr]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        scheduler.join(120)
    ti = fleet.home.tis("endless", run.run_id)["sleeps"]
    assert ti.state is State.FAILED
    assert "celery.worker_shutdown_timeout (1s)" in (ti.error or ""), ti.error
    assert fleet.report_of(worker).state.value == "stopped"  # type: ignore[union-attr]


@needs_redis
def test_two_workers_on_two_queues_run_only_their_queues_tries(fleet: Fleet) -> None:
    """Worker A listens on queue A only, worker B on queue B only; the DAG sends three tries to
    A explicitly and three to B through default_args, and each ran only where it may."""
    fleet.start_worker("--queues", fleet.queue_a, "--concurrency", "2", FLEET_WORKER="a")
    fleet.start_worker("--queues", fleet.queue_b, "--concurrency", "2", FLEET_WORKER="b")
    run = fleet.home.trigger("routed")

    fleet.home.run_scheduler(core_parallelism=6)

    assert fleet.home.run_state("routed", run.run_id) is RunState.SUCCESS
    lines = [json.loads(line) for line in fleet.home.record.read_text().splitlines()]
    where = {line["task"]: line["worker"] for line in lines if line["dag"] == "routed"}
    assert where == {f"on_{q}_{i}": q for q in "ab" for i in range(3)}
    rows = {tuple(row["queues"]): row for row in fleet.workers_json()}  # type: ignore[arg-type]
    assert set(rows) == {(fleet.queue_a,), (fleet.queue_b,)}


@pytest.mark.parametrize(
    "fleet", [pytest.param(RABBITMQ, id="rabbitmq", marks=needs_rabbitmq)], indirect=True
)
def test_a_high_priority_try_overtakes_queued_low_ones(fleet: Fleet) -> None:
    """On a busy one-slot worker, a try of weight 600 sent after four tries of weight 1 are
    already waiting in RabbitMQ runs before all of them (x-max-priority message priority)."""
    fleet.start_worker("--concurrency", "1")
    low = fleet.home.trigger("low")
    scheduler, result = _in_background(fleet.home, core_parallelism=8)
    try:

        def lows_wait_behind_the_blocker() -> bool:
            tis = fleet.home.tis("low", low.run_id)
            return tis["blocker"].state is State.RUNNING and all(
                tis[f"low_{i}"].state is State.QUEUED for i in range(4)
            )

        wait_for(lows_wait_behind_the_blocker, timeout=60, interval=0.02)
        high = fleet.home.trigger("high")
    finally:
        scheduler.join(180)
    assert not isinstance(result[0], BaseException), result
    assert fleet.home.run_state("high", high.run_id) is RunState.SUCCESS
    order = [t.task for t in sorted(fleet.home.tries(), key=lambda t: t.start)]
    assert order[:2] == ["blocker", "urgent"], order
