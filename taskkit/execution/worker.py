"""The warm worker ("zygote"): keeps DAG versions loaded and forks one child per try.

Forking from a process that has already imported taskkit and unpickled the
DAG makes a fresh, fully isolated process per try cost about a millisecond:
a crash, os._exit, a segfault or an OOM kill takes down only that child. The
zygote watches each child's pipes and exit status, writes its log, enforces
execution_timeout by killing the child's process group, and sends exactly
one TryFinished per try back to the scheduler.

A try past its execution_timeout first fails inside its own process (the
alarm runtime.run_try sets), so what it pushed before is kept, as in
DAG.test() and Airflow; the zygote kills it only if it is still there
TIMEOUT_GRACE_S later (a task stuck where signals cannot reach it).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import gc
import logging
import os
import pickle
import selectors
import signal
import socket
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import attrs

# Imported here, in the zygote, so no forked try pays for importing them again.
from taskkit.execution.base import DagPayload, TryFinished, TryStarted, Workload
from taskkit.execution.runtime import run_try
from taskkit.execution.tasklog import TryLog
from taskkit.model.results import TryOutcome, TryResult

_CHUNK = 65536
#: How long past execution_timeout a try may take to fail by itself before it is killed.
TIMEOUT_GRACE_S = 5.0


@attrs.define
class _Child:
    """A forked try the zygote is watching."""

    workload: Workload
    pid: int
    result_fd: int
    out_fds: dict[int, str]  # fd -> "stdout" | "stderr"
    log: TryLog
    started: float
    #: When execution_timeout ends (the try's own alarm), and when it is killed if still there.
    timeout_at: float | None
    deadline: float | None
    result: bytearray = attrs.Factory(bytearray)
    exit_status: int | None = None
    timed_out: bool = False


@attrs.frozen
class _Spare:
    """A forked child waiting for its workload on `work_w`."""

    pid: int
    work_w: int
    result_r: int
    out_r: int
    err_r: int


class Zygote:
    """The zygote's event loop; runs in its own process (see `serve`)."""

    def __init__(self, conn: Connection, secret_key: bytes) -> None:
        self.conn = conn
        self.secret_key = secret_key
        self.dags: dict[int, Any] = {}
        self.children: dict[int, _Child] = {}
        self.by_fd: dict[int, _Child] = {}
        self.selector = selectors.DefaultSelector()
        self.hostname = socket.gethostname()
        self.draining = False
        self.kill_at: float | None = None
        self.spare: _Spare | None = None
        self.pid = os.getpid()

    def serve(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(wake_r, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # The scheduler decides when to stop (and the zygote exits when it goes away): a
        # Ctrl-C or a SIGTERM sent to the whole process group must not lose running tries.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.selector.register(self.conn.fileno(), selectors.EVENT_READ, "conn")
        self.selector.register(wake_r, selectors.EVENT_READ, "wake")
        while not (self.draining and not self.children):
            timeout = self._timeout()
            if self.spare is None and self.dags and not self.draining:
                # Fork the next try's process only when nothing else is waiting, so the
                # fork never delays noticing a finished try or dispatching a queued one.
                timeout = 0
            ready = self.selector.select(timeout)
            for key, _ in ready:
                if key.data == "conn":
                    self._receive()
                elif key.data == "wake":
                    _drain(wake_r)
                else:
                    self._read_child(key.fd)
            self._enforce_deadlines()
            self._reap()
            if not ready and self.spare is None and self.dags and not self.draining:
                self.spare = self._fork_spare()

    # -- messages from the scheduler ------------------------------------------

    def _receive(self) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            # The scheduler is gone: nobody will record results, so stop now.
            self._discard_spare()
            for child in self.children.values():
                _kill_group(child.pid)
            os._exit(1)
        if isinstance(message, DagPayload):
            self._load(message)
        elif isinstance(message, Workload):
            self._fork(message)
        elif isinstance(message, tuple) and message[0] == "shutdown":
            self._discard_spare()
            self.draining = True
            self.kill_at = time.monotonic() + float(message[1])

    def _load(self, message: DagPayload) -> None:
        from taskkit import serde

        if message.dag_version_id not in self.dags:
            self._discard_spare()  # it was forked without this version
            self.dags[message.dag_version_id] = serde.loads_verified_dag(
                message.payload, message.signature, self.secret_key
            )
            # Move what is loaded out of the collector's sight: forked children then
            # don't copy-on-write every page just because a GC pass touched it.
            gc.freeze()

    # -- children ---------------------------------------------------------------

    def _fork_spare(self) -> _Spare:
        """Fork a child that sets itself up and then waits for its workload.

        Forking ahead takes fork()'s milliseconds off the path from "the
        scheduler queued a try" to "the try runs".
        """
        work_r, work_w = os.pipe()
        result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                for fd in (work_w, result_r, out_r, err_r):
                    os.close(fd)
                if self.spare is not None:
                    os.close(self.spare.work_w)
                _run_child(self, work_r, result_w, out_w, err_w)
            except BaseException:
                traceback.print_exc()  # reaches the try's log once stderr is redirected
            finally:
                os._exit(70)
        for fd in (work_r, result_w, out_w, err_w):
            os.close(fd)
        with contextlib.suppress(OSError):  # also here, so a kill never races the child's call
            os.setpgid(pid, pid)
        return _Spare(pid, work_w, result_r, out_r, err_r)

    def _discard_spare(self) -> None:
        if self.spare is not None:
            spare, self.spare = self.spare, None
            _kill_group(spare.pid)
            for fd in (spare.work_w, spare.result_r, spare.out_r, spare.err_r):
                os.close(fd)

    def _fork(self, workload: Workload) -> None:
        spare = self.spare or self._fork_spare()
        self.spare = None
        try:
            _write_all(spare.work_w, _frame(pickle.dumps(workload)))
        except BrokenPipeError:  # the spare died while waiting; fork a fresh one
            self.spare = spare
            self._discard_spare()
            spare = self._fork_spare()
            _write_all(spare.work_w, _frame(pickle.dumps(workload)))
        os.close(spare.work_w)
        now = time.monotonic()
        timeout = workload.execution_timeout_s
        log = TryLog.open(workload)
        child = _Child(
            workload=workload,
            pid=spare.pid,
            result_fd=spare.result_r,
            out_fds={spare.out_r: "stdout", spare.err_r: "stderr"},
            log=log,
            started=now,
            timeout_at=now + timeout if timeout is not None else None,
            deadline=now + timeout + TIMEOUT_GRACE_S if timeout is not None else None,
        )
        self.children[spare.pid] = child
        for fd in (spare.result_r, spare.out_r, spare.err_r):
            os.set_blocking(fd, False)
            self.by_fd[fd] = child
            self.selector.register(fd, selectors.EVENT_READ, "child")
        started = TryStarted(
            workload.key,
            workload.try_number,
            spare.pid,
            self.hostname,
            dt.datetime.now(dt.timezone.utc),
        )
        log.started(spare.pid, self.hostname)
        self.conn.send(started)

    def _read_child(self, fd: int) -> None:
        child = self.by_fd.get(fd)
        if child is None:
            return
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if not data:
            self._close_fd(fd)
        elif fd == child.result_fd:
            child.result.extend(data)
        else:
            child.log.output(child.out_fds[fd], data)

    def _close_fd(self, fd: int) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        child = self.by_fd.pop(fd)
        child.out_fds.pop(fd, None)
        if fd == child.result_fd:
            child.result_fd = -1

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            if child.deadline is not None and now >= child.deadline and not child.timed_out:
                child.timed_out = True
                _kill_group(child.pid)
        if self.kill_at is not None and now >= self.kill_at:
            for child in self.children.values():
                _kill_group(child.pid)

    def _timeout(self) -> float | None:
        deadlines = [c.deadline for c in self.children.values() if c.deadline and not c.timed_out]
        if self.kill_at is not None:
            deadlines.append(self.kill_at)
        if self.children and any(c.exit_status is not None for c in self.children.values()):
            return 0.01  # an exited child whose pipes a grandchild still holds
        return max(min(deadlines) - time.monotonic(), 0) if deadlines else None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            child = self.children.get(pid)
            if child is None:
                continue
            child.exit_status = status
            if child.timeout_at is not None and time.monotonic() >= child.timeout_at:
                # It ran out of time (its own alarm failed it, or _enforce_deadlines
                # killed it): what it started in the background dies with it.
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
        for pid in [p for p, c in self.children.items() if c.exit_status is not None]:
            self._finish(self.children[pid])

    def _finish(self, child: _Child) -> None:
        if child.result_fd != -1:
            # Read what the child wrote before exiting; a grandchild cannot hold this pipe.
            while child.result_fd != -1:
                try:
                    data = os.read(child.result_fd, _CHUNK)
                except BlockingIOError:
                    break
                if not data:
                    self._close_fd(child.result_fd)
                else:
                    child.result.extend(data)
        for fd in list(child.out_fds):
            # Keep what is buffered now; don't wait for grandchildren that kept the pipe.
            try:
                while data := os.read(fd, _CHUNK):
                    child.log.output(child.out_fds[fd], data)
            except BlockingIOError:
                pass
            self._close_fd(fd)
        del self.children[child.pid]
        finished = self._outcome(child)
        child.log.finished(finished.result)
        self.conn.send(finished)

    def _outcome(self, child: _Child) -> TryFinished:
        workload = child.workload
        duration = time.monotonic() - child.started
        if child.timed_out:
            reason = f"execution_timeout of {workload.execution_timeout_s:g}s exceeded; killed"
        elif child.result and child.result_fd == -1:
            try:
                finished: TryFinished = pickle.loads(bytes(child.result))
            except Exception as exc:
                reason = f"could not read the try's result: {exc}"
            else:
                return finished
        else:
            exit_description = _describe_exit(child.exit_status)
            reason = f"worker process {exit_description} without reporting a result"
        result = TryResult(TryOutcome.FAILED, error=reason, duration_s=duration)
        return TryFinished(workload.key, workload.try_number, result)


def _run_child(zygote: Zygote, work_r: int, result_w: int, out_w: int, err_w: int) -> None:
    """Inside the forked child: wait for the workload, run the try, write its TryFinished."""
    os.setpgid(0, 0)  # its own process group, so a timeout kills what it started too
    _die_with(zygote.pid)
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    zygote.conn.close()
    zygote.selector.close()
    for fd in zygote.by_fd:
        os.close(fd)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        force=True,
        format="%(levelname)s %(name)s: %(message)s",
    )
    frame = _read_frame(work_r)
    if frame is None:  # the zygote discarded this spare
        os._exit(0)
    workload: Workload = pickle.loads(frame)
    key = workload.key
    result = run_try(zygote.dags[workload.dag_version_id], workload)
    finished = TryFinished(key, workload.try_number, result)
    try:
        payload = pickle.dumps(finished)
    except Exception as exc:
        failed = TryResult(
            TryOutcome.FAILED,
            error=f"the task's return value cannot be "
            f"stored as an XCom: {type(exc).__name__}: {exc}",
            duration_s=result.duration_s,
        )
        payload = pickle.dumps(TryFinished(key, workload.try_number, failed))
    sys.stdout.flush()
    sys.stderr.flush()
    _write_all(result_w, payload)
    os.close(result_w)
    os._exit(0)


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this child when the zygote dies (Linux), even by SIGKILL.

    A try leads its own process group, so a SIGKILL sent to the zygote's group
    (say, a Celery worker's) would otherwise leave it running unobserved, and
    it could run twice once the scheduler retries it.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the call above
        os._exit(1)


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _read_frame(fd: int) -> bytes | None:
    """One length-prefixed message from a blocking fd, or None at end of file."""
    buffer = bytearray()
    needed = 8
    size: int | None = None
    while len(buffer) < needed:
        chunk = os.read(fd, max(needed - len(buffer), _CHUNK if size else 8))
        if not chunk:
            return None
        buffer.extend(chunk)
        if size is None and len(buffer) >= 8:
            size = int.from_bytes(buffer[:8], "big")
            needed = 8 + size
    return bytes(buffer[8:needed])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _kill_group(pid: int) -> None:
    """SIGKILL the child and everything it started (its process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError as exc:
        if exc.errno not in (errno.ESRCH, errno.EPERM):
            raise
        with contextlib.suppress(ProcessLookupError):  # it had not made its own group yet
            os.kill(pid, signal.SIGKILL)


def _describe_exit(status: int | None) -> str:
    if status is None:
        return "vanished"
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return f"was killed by signal {signal.Signals(signum).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def main(argv: list[str]) -> None:
    """Entry point of the zygote: `python -m taskkit.execution.worker FD`.

    FD is one end of a socketpair; the first message on it is the secret key
    that DAG payloads must be signed with.
    """
    conn = Connection(int(argv[1]))
    secret_key = conn.recv_bytes()
    Zygote(conn, secret_key).serve()


if __name__ == "__main__":
    main(sys.argv)
