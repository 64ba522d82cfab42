"""A try's process: what each child the zygote forks does, from the fork to its exit.

The zygote (worker.py) forks three kinds of children and runs one of these
methods in each: `child`, forked for one try whose workload it decoded
already; `spare`, forked ahead, which reads its one workload from a pipe
the executor writes; and, with process reuse, `pool_worker`, which takes
workloads from the shared work socket until it is done. Each first
`detach`es from the zygote (its own process group, killed with the zygote,
the zygote's descriptors closed), then `run`s its try: it opens the try's
log, points stdout and stderr at it, runs the try and sends the result on
the result socket all children share (formats in zygote_wire.py).

Everything here runs in a process that shares its pages with the zygote
until it writes to them, so it stays lean: each page it writes is copied
(docs/performance.md).
"""

from __future__ import annotations

import _socket
import ctypes
import fcntl
import gc
import importlib
import os
import select
import signal
import sys
import time
from array import array
from collections.abc import Callable
from typing import Any

import attrs

from taskkit.execution.runtime import run_try
from taskkit.execution.tasklog import (
    bound_keys,
    event_line,
    finish_log,
    finished_line,
    open_log,
    write_event,
)
from taskkit.execution.workload import Workload, decode_workload
from taskkit.execution.xcom_reads import metastore_lookup
from taskkit.execution.zygote_wire import (
    LAST,
    MORE,
    REQUEUE,
    RESULT_CHUNK,
    RESULT_HEADER,
    STARTED,
    WORK,
    WORK_MESSAGE_MAX,
    encode_result,
    read_all,
)
from taskkit.model.results import TryOutcome, TryResult

_PR_SET_PDEATHSIG = 1


@attrs.define(eq=False)
class TryProcess:
    """What the zygote's children need of it; set up once there, used in each child."""

    #: The zygote's DAG versions: a child has those loaded before it was forked.
    dags: dict[int, Any]
    #: The children's end of the result socket.
    result_fd: int
    zygote_pid: int
    #: libc's prctl (`libc_prctl`), or None where there is none.
    prctl: Any
    #: With process reuse: the work socket, and how many tries and pages a worker may take.
    work_fd: int | None = None
    reuse: int = 0
    max_rss_pages: int = 0
    #: The zygote's descriptors a child closes first, known in the zygote: calling fileno()
    #: in each child would cost it page faults.
    inherited: tuple[int, ...] = ()
    #: Where a spare writes its pid once it has its workload (the zygote forks another).
    taken_w: int = -1
    #: With process reuse: the lock a worker holds from taking a workload off the work socket
    #: until it reported it (`_take_next`).
    work_lock: int = -1

    def child(self, seq: int, version: int, workload: Workload) -> None:
        """A child forked for one try, its workload decoded already."""
        self._detach()
        self.run(seq, version, workload)
        os._exit(0)

    def spare(self, work_r: int, work_w: int) -> None:
        """A spare: wait for the workload the executor writes to its pipe, then run it."""
        os.close(work_w)
        self._detach(keep_taken=True)
        message = read_all(work_r)
        os.close(work_r)
        pid = os.getpid()
        os.write(self.taken_w, array("i", (pid,)).tobytes())
        os.close(self.taken_w)
        if message:  # else the executor closed the pipe unused: it is shutting down
            started = self._report(message, pid)
            if started is not None:
                self._run_message(message, started)
        os._exit(0)

    def pool_worker(self, idle_timeout: float | None) -> None:
        """A reusable worker: take workloads from the work socket until done, too big or idle."""
        self._detach()
        pid = os.getpid()
        for _ in range(self.reuse):
            taken = self._take_next(idle_timeout, pid)
            if taken is None:
                os._exit(0)
            self._run_message(*taken)
            if self.max_rss_pages and _resident_pages() > self.max_rss_pages:
                break
        os._exit(0)

    def _report(self, message: bytes, pid: int) -> float | None:
        """Report a workload this process took: STARTED, and when; or REQUEUE, and None, if
        its DAG version was loaded after this process was forked."""
        seq, version = WORK.unpack_from(message)
        started = time.time()
        kind = STARTED if version in self.dags else REQUEUE
        os.write(self.result_fd, RESULT_HEADER.pack(seq, kind, pid, started))
        return started if kind == STARTED else None

    def _run_message(self, message: bytes, started: float) -> None:
        """Run the try of a workload message this process took and reported STARTED."""
        seq, version = WORK.unpack_from(message)
        self.run(seq, version, decode_workload(message[WORK.size :]), started)

    def _take_next(self, idle_timeout: float | None, pid: int) -> tuple[bytes, float] | None:
        """The next workload from the work socket, reported; None if idle, closed or handed back.

        From taking a workload off the socket until it is reported, this
        process holds the work lock: the executor, holding it after a worker
        died, knows that every workload gone from the socket was reported or
        went with a dead process (`LocalExecutor._find_taken`). So a worker
        killed in between loses no try.
        """
        assert self.work_fd is not None
        # The workers share the socket's open file, so it stays blocking for them all;
        # MSG_DONTWAIT makes the read return if another worker took the message first.
        work = _socket.socket(fileno=self.work_fd)
        try:
            while True:
                if idle_timeout is not None:
                    if not select.select([self.work_fd], [], [], idle_timeout)[0]:
                        return None
                elif not work.recv(1, _socket.MSG_PEEK):
                    # A blocking peek (unlike select) wakes one waiting worker per workload.
                    return None  # the executor closed the work socket
                fcntl.lockf(self.work_lock, fcntl.LOCK_EX)
                try:
                    try:
                        message = work.recv(WORK_MESSAGE_MAX, _socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        continue  # another worker took it first: wait again
                    if not message:  # the executor closed the work socket
                        return None
                    started = self._report(message, pid)
                    return None if started is None else (message, started)
                finally:
                    fcntl.lockf(self.work_lock, fcntl.LOCK_UN)
        finally:
            work.detach()  # the descriptor stays open for the next call

    def _detach(self, *, keep_taken: bool = False) -> None:
        """Become a try's process: own process group, dies with the zygote, no zygote fds."""
        os.setpgid(0, 0)  # its own process group, so a timeout kills what it started too
        if self.prctl is not None:
            # Have the kernel SIGKILL this child when the zygote dies, even by SIGKILL: it
            # leads its own group, so a kill sent to the zygote's group would miss it, and
            # an unobserved try could run twice once the scheduler retries it.
            self.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.zygote_pid:  # the zygote died before the call above
            os._exit(1)
        signal.set_wakeup_fd(-1)
        for signum in _RESET_SIGNALS:
            _set_signal(signum, _SIG_DFL)
        for fd in self.inherited:
            os.close(fd)
        if not keep_taken and self.taken_w >= 0:
            os.close(self.taken_w)
        gc.enable()

    def run(self, seq: int, version: int, workload: Workload, started: float | None = None) -> None:
        """Open the log, run the try, write its last log line and send its result."""
        started = started or time.time()
        key = workload.key
        bound = bound_keys(
            key.dag_id, key.run_id, key.task_id, workload.try_number, map_index=key.map_index
        )
        try:
            log_fd = open_log(workload.log_path)
        except OSError as exc:
            reason = f"cannot open the try's log file {workload.log_path!r}: {exc.strerror or exc}"
            failed = TryResult(TryOutcome.FAILED, error=reason)
            self._send_bytes(seq, started, encode_result(failed))
            return
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        write_event(1, event_line(bound, "info", "try_started", pid=os.getpid(), hostname=HOST))
        result = run_try(self.dags[version], workload, lookup=metastore_lookup(workload.key))
        try:
            payload = encode_result(result)
        except Exception as exc:
            result = TryResult(
                TryOutcome.FAILED,
                error=f"the try's result cannot be sent back: {type(exc).__name__}: {exc}",
                duration_s=result.duration_s,
            )
            payload = encode_result(result)
        sys.stdout.flush()
        sys.stderr.flush()
        line = finished_line(bound, result.outcome.value, result.duration_s, result.error)
        finish_log(1, bound, workload.max_log_bytes, line)
        self._send_bytes(seq, started, payload)

    def _send_bytes(self, seq: int, started: float, payload: bytes) -> None:
        pid = os.getpid()
        last = max(len(payload) - 1, 0) // RESULT_CHUNK
        for index in range(last + 1):
            chunk = payload[index * RESULT_CHUNK : (index + 1) * RESULT_CHUNK]
            header = RESULT_HEADER.pack(seq, LAST if index == last else MORE, pid, started)
            os.write(self.result_fd, header + chunk)  # one datagram; never split


#: signal.signal minus its enum conversions, which cost a child ~40 page faults (turning
#: the zygote's Python SIGCHLD handler into a `Handlers` member raises and catches an error).
_set_signal: Callable[[int, int], object] = importlib.import_module("_signal").signal
_RESET_SIGNALS = (int(signal.SIGCHLD), int(signal.SIGINT), int(signal.SIGTERM))
_SIG_DFL = int(signal.SIG_DFL)

HOST = os.uname().nodename  # socket.gethostname() without importing socket here


def libc_prctl() -> Any:
    """libc's prctl, looked up once here rather than in every child (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _resident_pages() -> int:
    """This process's resident pages; os-level calls, as a file object cost ~5 us a try more."""
    fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return int(os.read(fd, 256).split()[1])
    finally:
        os.close(fd)
