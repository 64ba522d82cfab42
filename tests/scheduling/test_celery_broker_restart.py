"""The Celery executor across a broker crash: Redis that comes back empty, RabbitMQ that keeps.

Each test starts its own broker on free ports (a `redis-server` without
persistence; a RabbitMQ node with its own name, ports and data folder under
the test's tmp) so it can SIGKILL and restart it without touching the shared
brokers other tests use. One worker with one slot takes a fan of three tries
one at a time, so when the broker dies one try is running on the worker and
the others wait in the broker. Redis loses them (the scheduler must notice and
send them again); RabbitMQ keeps them, and redelivers the running try's
message, which the worker must drop. Either way every try runs exactly once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import PG_URL, pg_schema
from harness import Home, start_scheduler, stop, wait_for

from taskkit.states import RunState, State

pytest.importorskip("celery", reason="install taskkit[celery] to test the Celery executor")

REDIS_SERVER = shutil.which("redis-server")
#: The server script itself, not Debian's wrapper (which switches to the rabbitmq user).
RABBITMQ_SERVER = next(
    (
        path
        for path in ("/usr/lib/rabbitmq/bin/rabbitmq-server", shutil.which("rabbitmq-server"))
        if path and Path(path).exists()
    ),
    None,
)

pytestmark = [
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason="the Celery tests need TASKKIT_TEST_PG_URL (PostgreSQL metastore)"
    ),
]

# Each try records its start before sleeping, so a try cut short still counts as having run.
DAGS = """
def step(ti, seconds=0.3):
    start = time.time()
    note(ti, start, end=start)
    time.sleep(seconds)


with DAG("hops", schedule=None, start_date=dt.datetime(2026, 1, 1)) as hops:
    extract = PythonOperator(task_id="extract", python_callable=step)
    parts = [
        PythonOperator(task_id=f"part_{i}", python_callable=step, op_kwargs={"seconds": 1.0})
        for i in range(3)
    ]
    load = PythonOperator(task_id="load", python_callable=step)
    extract >> parts >> load
"""
TASKS = ["extract", "part_0", "part_1", "part_2", "load"]


class PrivateRedis:
    """A redis-server of this test's own, without persistence: a restart comes back empty."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=20)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server: everything it held (queues, unacked messages) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRabbitMQ:
    """A RabbitMQ node of this test's own: its own node name, ports, cookie and data folder.

    Durable queues and persistent messages live in its Mnesia folder, so a
    node SIGKILLed and started again on the same folder comes back with them.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "home").mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        (folder / "enabled_plugins").write_text("[].\n")  # no management port to clash
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.default = {self.port}\n")
        self.env = {
            **os.environ,
            "HOME": str(folder / "home"),  # its own Erlang cookie
            "RABBITMQ_NODENAME": f"taskkit-test-{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(_free_port()),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(folder / "pid"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert RABBITMQ_SERVER is not None
        self.process = subprocess.Popen(
            [RABBITMQ_SERVER],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=180, interval=0.5)

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, "the private RabbitMQ node exited"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"AMQP\x00\x00\x09\x01")
                return bool(conn.recv(8))  # connection.start: the broker is accepting
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the node (its whole process group), as a crash or power cut would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH")
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    if RABBITMQ_SERVER is None:
        pytest.skip("rabbitmq-server is not installed")
    server = PrivateRabbitMQ(tmp_path / "rabbitmq")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> PrivateRedis | PrivateRabbitMQ:
    """A private broker of each kind, started by this test."""
    fixture = "private_redis" if request.param == "redis" else "private_rabbitmq"
    server: PrivateRedis | PrivateRabbitMQ = request.getfixturevalue(fixture)
    return server


@pytest.fixture
def home(broker: PrivateRedis | PrivateRabbitMQ, tmp_path: Path) -> Iterator[Home]:
    """A celery home on PostgreSQL whose broker is the private one."""
    with pg_schema() as url:
        home = Home.create(tmp_path / "home", url, "celery")
        (home.path / "taskkit.toml").write_text(
            f"[database]\nsql_alchemy_conn = {url!r}\n"
            f"[celery]\nbroker_url = {broker.url!r}\n"
            f"default_queue = 'restart-{uuid.uuid4().hex[:8]}'\n"
            "[scheduler]\nheartbeat_sec = 0.5\ntask_heartbeat_timeout = 10.0\n",
            encoding="utf-8",
        )
        home.write_dag("hops", DAGS)
        home.sync()
        try:
            yield home
        finally:
            home.close()


def _start_worker(home: Home) -> subprocess.Popen[str]:
    """A real `taskkit celery worker` with one slot, so the other tries wait in the broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT__")}
    env["TASKKIT_HOME"] = str(home.path)
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", "celery", "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_broker_crash_loses_no_try_and_runs_none_twice(
    home: Home, broker: PrivateRedis | PrivateRabbitMQ
) -> None:
    """A broker SIGKILLed and restarted while one try runs and others wait in it (Redis comes
    back empty, RabbitMQ with its durable queues) loses no try and runs none twice: the run
    succeeds with every task run exactly once."""
    worker = _start_worker(home)
    scheduler = start_scheduler(home, exit_when_idle=True)
    try:
        run = home.trigger("hops")

        def one_part_runs_and_another_waits() -> bool:
            states = [ti.state for ti in home.tis("hops", run.run_id).values()]
            return State.RUNNING in states and State.QUEUED in states

        # The running part's start is committed and its end is a second away, so no report
        # of it is in Redis when Redis dies (beats aside): the narrow at-least-once races of
        # docs/distributed.md ("Broker restart") cannot happen, and a rerun would be a bug.
        wait_for(one_part_runs_and_another_waits, timeout=60, interval=0.02)
        broker.kill()
        time.sleep(1.5)  # workers and the scheduler keep retrying meanwhile
        broker.start()

        with contextlib.suppress(subprocess.TimeoutExpired):
            scheduler.communicate(timeout=180)  # exits when the run is over
    finally:
        output = stop(scheduler)  # all its output, after killing it if it is still running
        worker_output = stop(worker)

    assert scheduler.returncode == 0, output + worker_output
    assert home.run_state("hops", run.run_id) is RunState.SUCCESS, output + worker_output
    tis = home.tis("hops", run.run_id)
    assert {task: ti.try_number for task, ti in tis.items()} == dict.fromkeys(TASKS, 1)
    assert Counter(t.task for t in home.tries("hops")) == dict.fromkeys(TASKS, 1)
