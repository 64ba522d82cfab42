"""LocalExecutor: up to `parallelism` tries at once, each in its own forked process."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from taskkit.execution.base import DagPayload, Event, TryFinished, Workload
from taskkit.model.results import TryOutcome, TryResult

if TYPE_CHECKING:
    from taskkit.model.keys import TaskInstanceKey


class LocalExecutor:
    """Hands workloads to a warm zygote process that forks one child per try.

    The zygote is a fresh interpreter (`python -m taskkit.execution.worker`),
    so it inherits none of the scheduler's database connections or threads,
    and unlike multiprocessing's spawn it never re-imports the caller's
    `__main__`; each try is forked from the zygote, so it
    starts in about a millisecond with the DAG already loaded.
    """

    def __init__(self, capacity: int, secret_key: bytes) -> None:
        self.capacity = capacity
        self.secret_key = secret_key
        self._conn: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._sent_versions: set[int] = set()
        self._in_flight: dict[tuple[TaskInstanceKey, int], Workload] = {}

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "taskkit.execution.worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send_bytes(self.secret_key)
        self._sent_versions.clear()

    def submit(self, workload: Workload, dag: DagPayload | None) -> None:
        conn = self._connection()
        if workload.dag_version_id not in self._sent_versions:
            if dag is None:
                raise ValueError(f"the worker has not seen DAG version {workload.dag_version_id}")
            conn.send(dag)  # once per version; later workloads only name it
            self._sent_versions.add(workload.dag_version_id)
        conn.send(workload)
        self._in_flight[workload.key, workload.try_number] = workload

    def poll(self, timeout: float) -> list[Event]:
        conn = self._connection()
        events: list[Event] = []
        try:
            if not conn.poll(timeout):
                return events
            while True:
                event = conn.recv()
                if isinstance(event, TryFinished):
                    self._in_flight.pop((event.key, event.try_number), None)
                events.append(event)
                if not conn.poll(0):
                    break
        except (EOFError, OSError):
            events.extend(self._lost_worker())
        return events

    def running(self) -> int:
        return len(self._in_flight)

    def shutdown(self, grace: float) -> list[Event]:
        if self._conn is None:
            return []
        events: list[Event] = []
        try:
            self._conn.send(("shutdown", grace))
        except OSError:
            return self._lost_worker()
        deadline = time.monotonic() + grace + 5
        while self._in_flight and time.monotonic() < deadline:
            events.extend(self.poll(0.2))
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._conn.close()
        self._conn = None
        return events + self._lost_worker()

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the executor was not started")
        return self._conn

    def _lost_worker(self) -> list[Event]:
        """The zygote died: every try it held is failed, and a new zygote is started."""
        lost: list[Event] = [
            TryFinished(
                key,
                try_number,
                TryResult(TryOutcome.FAILED, error="the worker process died; the try was lost"),
                at=dt.datetime.now(dt.timezone.utc),
            )
            for (key, try_number) in self._in_flight
        ]
        self._in_flight.clear()
        zygote_died = self._process is not None and self._process.poll() is not None
        if self._conn is not None and zygote_died:
            self._conn.close()
            self.start()
        return lost


class SequentialExecutor(LocalExecutor):
    """One try at a time, still each in its own child process."""

    def __init__(self, capacity: int, secret_key: bytes) -> None:
        super().__init__(1, secret_key)
