"""The scheduler with the Celery executor: real Redis/RabbitMQ, PostgreSQL, worker processes.

Each broker gets one home (metastore on PostgreSQL, its own Celery queue and
event channel) and one `python -m taskkit celery worker` process shared by
the module's tests; the fault tests start their own workers and schedulers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import PG_URL, pg_schema
from harness import Home, max_overlap, start_scheduler, stop, wait_for

from taskkit.scheduling.summary import SchedulerSummary
from taskkit.states import RunState, State


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


BROKERS = {
    "redis": ("redis://127.0.0.1:6379/0", 6379),
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", 5672),
}

pytestmark = [
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason="the Celery tests need TASKKIT_TEST_PG_URL (PostgreSQL metastore)"
    ),
]


def _broker_param(name: str) -> object:
    url, port = BROKERS[name]
    return pytest.param(
        url,
        id=name,
        marks=pytest.mark.skipif(
            not _answers(port), reason=f"{name} is not answering on 127.0.0.1:{port}"
        ),
    )


BROKER_PARAMS = [_broker_param("redis"), _broker_param("rabbitmq")]

DAGS = """
with DAG("seed", schedule=None, start_date=dt.datetime(2026, 1, 1)) as seed:
    for name, weight in (("a", 7), ("b", 6), ("c", 8)):
        PythonOperator(
            task_id=f"process_{name}", python_callable=sleeper, op_kwargs={"seconds": 0.05},
            pool="test_pool", priority_weight=weight,
        )

with DAG("slots", schedule=None, start_date=dt.datetime(2026, 1, 1)) as slots:
    def op(task_id, n, weight, seconds=0.2):
        return PythonOperator(
            task_id=task_id, python_callable=sleeper, pool="wh", pool_slots=n,
            priority_weight=weight, op_kwargs={"seconds": seconds, "slots": n},
        )

    op("warmup", 2, 100, seconds=0.4)
    op("big", 3, 10)
    for i in range(4):
        op(f"small_{i}", 1, 1, seconds=0.1)


def produce():
    return 42


def crash():
    os._exit(3)


with DAG("crashy", schedule=None, start_date=dt.datetime(2026, 1, 1)) as crashy:
    made = PythonOperator(task_id="produce", python_callable=produce)
    BashOperator(task_id="consume", bash_command="echo got-{{ ti.xcom_pull('produce') }}",
                 execution_timeout=dt.timedelta(seconds=30)) << made
    PythonOperator(task_id="crash", python_callable=crash, retries=1,
                   retry_delay=dt.timedelta(0))


def slow(ti):
    start = time.time()
    time.sleep(4)
    note(ti, start)


with DAG("wide", schedule=None, start_date=dt.datetime(2026, 1, 1)) as wide:
    for i in range(12):
        PythonOperator(task_id=f"nap_{i}", python_callable=sleeper, op_kwargs={"seconds": 0.1})


with DAG("long", schedule=None, start_date=dt.datetime(2026, 1, 1)) as long:
    PythonOperator(task_id="sleeps", python_callable=slow)


def third_poke(ti):
    path = os.path.join(os.path.dirname(RECORD), f"pokes-{ti.run_id}")
    with open(path, "a") as pokes:
        pokes.write("x")
    return os.path.getsize(path) >= 3


with DAG("sensing", schedule=None, start_date=dt.datetime(2026, 1, 1)) as sensing:
    from taskkit import PythonSensor

    PythonSensor(task_id="wait", python_callable=third_poke, mode="reschedule",
                 poke_interval=0.1, pool="test_pool")

from taskkit import BaseOperator, TimeDeltaTrigger


class AnswerLater(BaseOperator):
    def execute(self, context):
        self.defer(trigger=TimeDeltaTrigger(dt.timedelta(seconds=0.3)), method_name="done",
                   kwargs={"answer": 42})

    def done(self, context, event=None, answer=None):
        return answer


with DAG("deferring", schedule=None, start_date=dt.datetime(2026, 1, 1)) as deferring:
    later = AnswerLater(task_id="later", pool="test_pool")
    BashOperator(task_id="consume", bash_command="echo got-{{ ti.xcom_pull('later') }}") << later
"""


def _write_config(home: Home, broker: str, queue: str, tries_per_message: int) -> None:
    (home.path / "taskkit.toml").write_text(
        f"[database]\nsql_alchemy_conn = {home.db_url!r}\n"
        f"[celery]\nbroker_url = {broker!r}\ndefault_queue = {queue!r}\n"
        f"tries_per_message = {tries_per_message}\n"
        "[scheduler]\nheartbeat_sec = 0.5\ntask_heartbeat_timeout = 4.0\n",
        encoding="utf-8",
    )


def start_worker(home: Home, concurrency: int = 4) -> subprocess.Popen[str]:
    """A real `taskkit celery worker` process for `home`, in its own process group."""
    env = {**os.environ, "TASKKIT_HOME": str(home.path)}
    env = {k: v for k, v in env.items() if not k.startswith("TASKKIT__")}
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", "celery", "worker", "--concurrency", str(concurrency)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop_worker(process: subprocess.Popen[str]) -> str:
    """SIGKILL a worker's whole process group (it and its zygote) and return its output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=10)
    return out


def _make_home(root: Path, broker: str, tries_per_message: int = 1) -> Iterator[Home]:
    with pg_schema() as url:
        home = Home.create(root / "home", url, "celery")
        _write_config(home, broker, f"taskkit-test-{uuid.uuid4().hex[:8]}", tries_per_message)
        home.write_dag("celery_dags", DAGS)
        home.sync()
        home.pool("test_pool", 1)
        home.pool("wh", 4)
        try:
            yield home
        finally:
            home.close()


@pytest.fixture(scope="module", params=BROKER_PARAMS)
def broker(request: pytest.FixtureRequest) -> str:
    """The URL of each broker that answers here."""
    return str(request.param)


@pytest.fixture(scope="module")
def shared(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """A celery home on PostgreSQL with one running worker process (concurrency 4).

    Its scheduler sends up to 3 tries queued together in one message
    (celery.tries_per_message); the fault tests' homes send one per message.
    """
    for home in _make_home(tmp_path_factory.mktemp("celery"), broker, tries_per_message=3):
        worker = start_worker(home)
        try:
            yield home
        finally:
            stop_worker(worker)


@pytest.fixture
def lonely(broker: str, tmp_path: Path) -> Iterator[Home]:
    """A celery home on PostgreSQL with no worker yet: the test starts (and kills) its own."""
    yield from _make_home(tmp_path, broker)


def test_pool_of_one_runs_by_priority(shared: Home) -> None:
    """Through Celery, a one-slot pool runs weights 7, 6, 8 in the order c, a, b, one at a time."""
    run = shared.trigger("seed")

    shared.run_scheduler()

    tis = shared.tis("seed", run.run_id)
    assert all(ti.state is State.SUCCESS for ti in tis.values())
    assert shared.started_order("seed", run.run_id) == ["process_c", "process_a", "process_b"]
    assert max_overlap(shared.tries("seed")) == 1


def test_pool_slots_hold_on_workers(shared: Home) -> None:
    """Tries on Celery workers never hold more than the pool's 4 weighted slots at once."""
    run = shared.trigger("slots")

    shared.run_scheduler(core_parallelism=8)

    assert shared.run_state("slots", run.run_id) is RunState.SUCCESS
    tries = shared.tries("slots")
    assert max_overlap(tries, weight=lambda t: t.slots) <= 4
    # The 3-slot task is not starved by the 1-slot ones behind it: none is queued before it.
    # (Start times on the worker would race: big and one small may be queued together.)
    queued = {task_id: ti.queued_at for task_id, ti in shared.tis("slots", run.run_id).items()}
    assert all(queued["big"] <= queued[f"small_{i}"] for i in range(4))


def test_tries_sharing_messages_each_run_once_within_the_workers_slots(shared: Home) -> None:
    """Twelve tries queued together travel three per message; the worker (4 slots) runs each
    exactly once and never more than 4 at a time."""
    run = shared.trigger("wide")

    shared.run_scheduler(core_parallelism=12)

    assert shared.run_state("wide", run.run_id) is RunState.SUCCESS
    tries = shared.tries("wide")
    assert sorted(t.task for t in tries) == sorted(f"nap_{i}" for i in range(12))
    assert max_overlap(tries) <= 4


def test_crash_fails_the_try_and_xcom_and_templates_work(shared: Home) -> None:
    """A try that exits the process fails (retried once), while XCom and templates still flow."""
    run = shared.trigger("crashy")

    shared.run_scheduler()

    tis = shared.tis("crashy", run.run_id)
    assert tis["crash"].state is State.FAILED
    assert tis["crash"].try_number == 2
    assert "exited with code 3" in (tis["crash"].error or "")
    assert tis["consume"].state is State.SUCCESS
    assert "got-42" in shared.log_text("crashy", run.run_id, "consume", 1)
    assert shared.run_state("crashy", run.run_id) is RunState.FAILED


def test_a_rescheduled_sensor_pokes_on_workers_within_one_try(shared: Home) -> None:
    """Each poke of a reschedule-mode sensor is queued to a worker again, as the same try."""
    run = shared.trigger("sensing")

    shared.run_scheduler()

    wait = shared.tis("sensing", run.run_id)["wait"]
    assert (wait.state, wait.try_number) == (State.SUCCESS, 1)
    assert shared.log_text("sensing", run.run_id, "wait", 1).count("try_started") == 3


def test_a_deferred_task_resumes_on_a_worker_within_one_try(shared: Home) -> None:
    """A task that defers runs on a worker, waits in the triggerer, resumes on a worker."""
    run = shared.trigger("deferring")

    shared.run_scheduler()

    tis = shared.tis("deferring", run.run_id)
    assert (tis["later"].state, tis["later"].try_number) == (State.SUCCESS, 1)
    assert shared.log_text("deferring", run.run_id, "later", 1).count("try_started") == 2
    assert "got-42" in shared.log_text("deferring", run.run_id, "consume", 1)


def test_killed_worker_fails_the_try(lonely: Home) -> None:
    """SIGKILLing a worker's process group mid-try fails that try within seconds, with a reason."""
    worker = start_worker(lonely, concurrency=1)
    run = lonely.trigger("long")
    result: list[SchedulerSummary] = []
    scheduler = threading.Thread(target=lambda: result.append(lonely.run_scheduler()))
    scheduler.start()
    try:
        wait_for(
            lambda: lonely.tis("long", run.run_id)["sleeps"].state is State.RUNNING, timeout=30
        )
        stop_worker(worker)
        killed = time.monotonic()
        scheduler.join(60)
        assert not scheduler.is_alive()
    finally:
        stop_worker(worker)
        scheduler.join(60)
    ti = lonely.tis("long", run.run_id)["sleeps"]
    assert ti.state is State.FAILED
    assert "sent no heartbeat" in (ti.error or "")
    assert time.monotonic() - killed < 60
    assert lonely.tries("long") == []  # the try never got to finish anywhere


def test_restarted_scheduler_adopts_running_tries(lonely: Home) -> None:
    """A scheduler killed while a try runs on a worker is replaced by one that adopts the try."""
    worker = start_worker(lonely, concurrency=1)
    first = start_scheduler(lonely, exit_when_idle=False)
    try:
        run = lonely.trigger("long")
        wait_for(
            lambda: lonely.tis("long", run.run_id)["sleeps"].state is State.RUNNING, timeout=30
        )
        stop(first)

        lonely.run_scheduler()

        ti = lonely.tis("long", run.run_id)["sleeps"]
        assert ti.state is State.SUCCESS
        assert ti.try_number == 1
        assert len(lonely.tries("long")) == 1  # ran once, not again
    finally:
        stop(first)
        stop_worker(worker)


def test_bad_messages_on_the_broker_do_not_stop_scheduling(shared: Home) -> None:
    """Garbage on the scheduler's event channel and on the workers' queue (forged, garbled,
    another key's signature) is dropped with a warning: the scheduler runs the DAGs, exits 0."""
    from kombu import Connection

    from taskkit.execution.celery_app import make_app, scheduler_channel_name, seal

    settings = shared.settings()
    run = shared.trigger("crashy")
    slow = shared.trigger("long")  # keeps the scheduler busy while the garbage arrives
    result: list[SchedulerSummary] = []
    scheduler = threading.Thread(target=lambda: result.append(shared.run_scheduler()))
    scheduler.start()
    try:
        me = wait_for(shared.store.list_schedulers, timeout=30)[0].id
        channel = scheduler_channel_name(shared.db_url, me)  # each scheduler reads its own
        with Connection(settings.celery.broker_url) as conn:
            events = conn.SimpleQueue(channel)
            for body in ({"x": 1}, {"sealed": "%%%.abc"}, {"sealed": seal({"a": 1}, b"o" * 32)}):
                events.put(body, serializer="json")
            events.put(b"\xff garbled", content_type="application/json", content_encoding="binary")
            events.close()
        sender = make_app(settings.celery)  # declares the queue as workers do
        sender.send_task(
            "taskkit.run_try",
            args=[channel, seal("not a workload", b"o" * 32), "elsewhere"],
            queue=settings.celery.default_queue,
        )
        sender.close()
    finally:
        scheduler.join(120)

    assert result and result[0].exit_code == 0
    tis = shared.tis("crashy", run.run_id)
    assert tis["produce"].state is State.SUCCESS
    assert tis["consume"].state is State.SUCCESS
    assert shared.run_state("long", slow.run_id) is RunState.SUCCESS


def test_a_triggered_run_wakes_a_celery_scheduler(
    shared: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With refreshes an hour apart, a run triggered on this host is still picked up: the
    Celery executor's wait for events looks at the scheduler's wake-up socket between reads.
    (A Redis reader's blocking read is capped: here above the test's wait.)"""
    from taskkit.execution import celery_channel
    from taskkit.scheduling import scheduler as scheduler_module
    from taskkit.scheduling.scheduler import Scheduler
    from taskkit.scheduling.wakeup import wake_scheduler
    from taskkit.services import runs

    monkeypatch.setattr(scheduler_module, "REFRESH_INTERVAL_S", 3600.0)
    monkeypatch.setattr(celery_channel, "LONGEST_REDIS_BLOCK_S", 25.0)
    scheduler = Scheduler(shared.settings(), exit_when_idle=False)
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    try:
        first = runs.trigger(shared.store, shared.settings(), "seed", run_id="woken-first")
        wait_for(lambda: shared.run_state("seed", first.run_id) is RunState.SUCCESS, timeout=60)
        # Long after its first refresh: only the wake-up can make it look again.
        second = runs.trigger(shared.store, shared.settings(), "seed", run_id="woken-second")
        wait_for(lambda: shared.run_state("seed", second.run_id) is RunState.SUCCESS, timeout=20)
    finally:
        scheduler._request_stop("SIGTERM")
        wake_scheduler(shared.db_url)  # out of its hour-long wait, to see the stop
        thread.join(60)
    assert not thread.is_alive()


@pytest.fixture
def reusing(tmp_path: Path) -> Iterator[Home]:
    """A celery home on PostgreSQL and Redis whose workers reuse processes (no worker yet)."""
    url, port = BROKERS["redis"]
    if not _answers(port):
        pytest.skip(f"redis is not answering on 127.0.0.1:{port}")
    for home in _make_home(tmp_path, url):
        with (home.path / "taskkit.toml").open("a", encoding="utf-8") as config:
            config.write("[local]\nreuse_processes = 100\n")
        yield home


def test_workers_run_tries_in_reused_processes_when_configured(reusing: Home) -> None:
    """`[local] reuse_processes` holds on Celery workers as in the Local executor: a worker
    with one slot runs twelve tries in one long-lived process instead of twelve forks."""
    worker = start_worker(reusing, concurrency=1)
    try:
        run = reusing.trigger("wide")
        reusing.run_scheduler(core_parallelism=12)
    finally:
        stop_worker(worker)
    assert reusing.run_state("wide", run.run_id) is RunState.SUCCESS
    logs = [reusing.log_text("wide", run.run_id, f"nap_{i}", 1) for i in range(12)]
    pids = {match.group(1) for log in logs if (match := re.search(r"pid=(\d+)", log))}
    assert len(pids) == 1, logs[0]
