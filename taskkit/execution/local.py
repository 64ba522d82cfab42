"""LocalExecutor: up to `parallelism` tries at once, each in its own forked process."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from taskkit.execution.base import TI, DagPayload, Event, TryFinished, Workload
from taskkit.model.results import TryOutcome, TryResult

if TYPE_CHECKING:
    from taskkit.model.keys import TaskInstanceKey


class LocalExecutor:
    """Hands workloads to a warm zygote process that forks one child per try.

    The zygote is a fresh interpreter (`python -m taskkit.execution.worker`),
    so it inherits none of the scheduler's database connections or threads,
    and unlike multiprocessing's spawn it never re-imports the caller's
    `__main__`; each try is forked from the zygote, so it
    starts in about a millisecond with the DAG already loaded. At most
    `capacity` tries run at once; later submissions wait here, in order.
    """

    def __init__(self, capacity: int, secret_key: bytes) -> None:
        self.capacity = capacity
        self.secret_key = secret_key
        self._conn: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._payloads: dict[int, DagPayload] = {}
        self._sent_versions: set[int] = set()
        self._waiting: deque[Workload] = deque()
        #: Tries handed to the zygote and not finished, with their pid once started.
        self._in_flight: dict[tuple[TaskInstanceKey, int], int | None] = {}
        #: Cancelled tries whose process is not known yet: killed when they start.
        self._cancelled: set[tuple[TaskInstanceKey, int]] = set()

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
        if dag is not None:
            self._payloads.setdefault(dag.dag_version_id, dag)
        if workload.dag_version_id not in self._payloads:
            raise ValueError(f"the worker has not seen DAG version {workload.dag_version_id}")
        self._waiting.append(workload)
        self._send_waiting()

    def _send_waiting(self) -> None:
        conn = self._connection()
        while self._waiting and len(self._in_flight) < self.capacity:
            workload = self._waiting.popleft()
            if workload.dag_version_id not in self._sent_versions:
                conn.send(self._payloads[workload.dag_version_id])  # once per version
                self._sent_versions.add(workload.dag_version_id)
            conn.send(workload)
            self._in_flight[workload.key, workload.try_number] = None

    def poll(self, timeout: float) -> list[Event]:
        conn = self._connection()
        events: list[Event] = []
        try:
            if not conn.poll(timeout):
                return events
            while True:
                event = conn.recv()
                ident = (event.key, event.try_number)
                if isinstance(event, TryFinished):
                    self._in_flight.pop(ident, None)
                    self._cancelled.discard(ident)
                elif ident in self._in_flight:
                    self._in_flight[ident] = event.pid
                    if ident in self._cancelled:
                        _kill_group(event.pid)
                events.append(event)
                if not conn.poll(0):
                    break
            self._send_waiting()
        except (EOFError, OSError):
            events.extend(self._lost_worker())
            self.start()
            self._send_waiting()
        return events

    def running(self) -> int:
        return len(self._in_flight) + len(self._waiting)

    def adopt(self, tis: Sequence[TI]) -> list[TI]:
        """Tries die with the scheduler that ran them (the zygote is its child): adopt none."""
        return list(tis)

    def cancel(self, key: TaskInstanceKey, try_number: int) -> None:
        self._waiting = deque(
            w for w in self._waiting if (w.key, w.try_number) != (key, try_number)
        )
        ident = (key, try_number)
        if ident not in self._in_flight:
            return
        pid = self._in_flight[ident]
        if pid is None:
            self._cancelled.add(ident)
        else:
            _kill_group(pid)  # the zygote reports the child's death as a (stale) TryFinished

    def shutdown(self, grace: float) -> list[Event]:
        if self._conn is None:
            return []
        self._waiting.clear()  # not started: nothing to report, the scheduler reschedules them
        events: list[Event] = []
        try:
            self._conn.send(("shutdown", grace))
        except OSError:
            return self._lost_worker()
        deadline = time.monotonic() + grace + 5
        while self._in_flight and time.monotonic() < deadline:
            events.extend(self._poll_until_gone(0.2))
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return events + self._lost_worker()

    def _poll_until_gone(self, timeout: float) -> list[Event]:
        """Poll during shutdown: a zygote that went away is not replaced."""
        conn = self._connection()
        events: list[Event] = []
        try:
            while conn.poll(timeout):
                timeout = 0
                event = conn.recv()
                if isinstance(event, TryFinished):
                    self._in_flight.pop((event.key, event.try_number), None)
                events.append(event)
        except (EOFError, OSError):
            events.extend(self._lost_worker())
        return events

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the executor was not started")
        return self._conn

    def _lost_worker(self) -> list[Event]:
        """The zygote is gone: every try it held is failed, and killed if it still runs.

        A zygote that dies abruptly cannot kill its children, and a try that
        goes on running unobserved could run twice once it is retried.
        """
        lost: list[Event] = []
        for (key, try_number), pid in self._in_flight.items():
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)  # each try leads its own process group
            lost.append(
                TryFinished(
                    key,
                    try_number,
                    TryResult(TryOutcome.FAILED, error="the worker process died; the try was lost"),
                    at=dt.datetime.now(dt.timezone.utc),
                )
            )
        self._in_flight.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            self._process.wait()
        return lost


class SequentialExecutor(LocalExecutor):
    """One try at a time, still each in its own child process."""

    def __init__(self, capacity: int, secret_key: bytes) -> None:
        super().__init__(1, secret_key)


def _kill_group(pid: int) -> None:
    """SIGKILL a try's process group (each try leads its own), if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
