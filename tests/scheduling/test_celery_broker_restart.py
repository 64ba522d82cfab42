"""The Celery executor across a restart of a Redis broker that comes back empty.

The test starts its own `redis-server` (no persistence, on a free port) so it
can SIGKILL and restart it without touching the shared Redis other tests use.
One worker with one slot takes a fan of three tries one at a time, so when
Redis dies one try is running on the worker and the others wait in Redis, and
are lost with it: the scheduler must notice and send them again.
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

pytestmark = [
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not on PATH"),
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


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def home(private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Home]:
    """A celery home on PostgreSQL whose broker is the private Redis."""
    with pg_schema() as url:
        home = Home.create(tmp_path / "home", url, "celery")
        (home.path / "taskkit.toml").write_text(
            f"[database]\nsql_alchemy_conn = {url!r}\n"
            f"[celery]\nbroker_url = {private_redis.url!r}\n"
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


def test_empty_redis_restart_loses_no_try_and_runs_none_twice(
    home: Home, private_redis: PrivateRedis
) -> None:
    """A Redis broker killed and restarted empty while one try runs and others wait in it loses
    no try and runs none twice: the run succeeds with every task run exactly once."""
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
        private_redis.kill()
        time.sleep(1.5)  # workers and the scheduler keep retrying meanwhile
        private_redis.start()

        with contextlib.suppress(subprocess.TimeoutExpired):
            scheduler.communicate(timeout=90)  # exits when the run is over
    finally:
        output = stop(scheduler)  # all its output, after killing it if it is still running
        worker_output = stop(worker)

    assert scheduler.returncode == 0, output + worker_output
    assert home.run_state("hops", run.run_id) is RunState.SUCCESS, output + worker_output
    tis = home.tis("hops", run.run_id)
    assert {task: ti.try_number for task, ti in tis.items()} == dict.fromkeys(TASKS, 1)
    assert Counter(t.task for t in home.tries("hops")) == dict.fromkeys(TASKS, 1)
