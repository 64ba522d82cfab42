"""LocalExecutor: up to `parallelism` tries at once, each in its own forked process."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
from array import array
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import attrs

from taskkit import serde
from taskkit.errors import PayloadIntegrityError
from taskkit.execution.base import (
    TI,
    AddWorkers,
    DagPayload,
    Event,
    LoadDag,
    RunTries,
    Shutdown,
    TryFinished,
    TryStarted,
    ZygoteReport,
)
from taskkit.execution.gathering import gather_wait
from taskkit.execution.tasklog import bound_keys, finish_log, finished_line, open_log
from taskkit.execution.workload import Workload, encode_workload
from taskkit.execution.zygote_wire import (
    LAST,
    REQUEUE,
    RESULT_CHUNK,
    SPARE,
    SPARE_MESSAGE_MAX,
    STARTED,
    TIMEOUT_GRACE_S,
    WORK,
    WORK_MESSAGE_MAX,
    Channel,
    decode_result,
    describe_exit,
    unpack_result_header,
)
from taskkit.model.results import TryOutcome, TryResult

if TYPE_CHECKING:
    from taskkit.model.keys import TaskInstanceKey

#: Environment variables that would hand the secret key to every try.
_SECRET_ENV_PREFIX = "TASKKIT__CORE__SECRET_KEY"
_UTC = dt.timezone.utc
#: With process reuse: how long a workload may wait for a free worker before the zygote is
#: asked for one more. Above the ~20 ms that no-op tries queue behind a busy 2-CPU pool, so
#: short tries do not grow the pool; long tries are joined by a worker each after this.
GROW_AFTER_S = 0.03
#: After a reused worker exited, how soon to look again for what it may have taken, if another
#: worker held the lock (it holds it for a few microseconds).
FIND_TAKEN_RETRY_S = 0.001


@attrs.define
class _Flight:
    """A try handed to the zygote and not finished yet."""

    workload: Workload
    pid: int | None = None
    started: bool = False
    chunks: list[bytes] = attrs.Factory(list)
    #: For tries a spare or a reused worker runs, which the zygote does not time (it does not
    #: know which try such a process runs).
    deadline: float | None = None
    timed_out: bool = False


class LocalExecutor:
    """Hands workloads to a warm zygote process that forks one child per try.

    The zygote is a fresh interpreter (`python -m taskkit.execution.worker`),
    so it inherits none of the scheduler's database connections or threads,
    and unlike multiprocessing's spawn it never re-imports the caller's
    `__main__`; each try is forked from the zygote, so it starts in well
    under a millisecond with the DAG already loaded. At most `capacity`
    tries run at once; later submissions wait here, in order.

    The secret key stays here: DAG payloads are verified in this process and
    sent to the zygote already checked, and the zygote's environment has no
    `TASKKIT__CORE__SECRET_KEY*` variables, so no try holds the key in its
    memory or environment.
    """

    #: Tries die with the scheduler that ran them.
    adopts_tries = False

    def __init__(
        self,
        capacity: int,
        secret_key: bytes,
        *,
        reuse_processes: int = 0,
        reuse_max_rss_mb: int = 1024,
        reuse_idle_timeout: float = 60.0,
        try_environment: Mapping[str, str] | None = None,
        wakeup_fd: int | None = None,
    ) -> None:
        self.capacity = capacity
        #: Readable when the owner has new work: `poll` returns at once instead of waiting.
        #: The owner drains it (the Celery worker's dispatcher, fed by Celery's threads).
        self.wakeup_fd = wakeup_fd
        #: Put in the zygote's environment (services/secrets_source.try_environment: the
        #: metastore URL, TASKKIT_HOME, core.fernet_key), so a try's Variable.get reads the
        #: metastore this scheduler uses.
        self.try_environment = dict(try_environment or {})
        self.secret_key = secret_key
        self.reuse_processes = reuse_processes
        self.reuse_max_rss_mb = reuse_max_rss_mb
        self.reuse_idle_timeout = reuse_idle_timeout
        self._work: socket.socket | None = None
        #: With process reuse: the workers' end of the work socket, never read here: what is
        #: queued there tells which workloads were taken (`_find_taken`); and the lock the
        #: workers hold from taking a workload until they reported it.
        self._work_queue: socket.socket | None = None
        self._work_lock: IO[bytes] | None = None
        #: (seq, size) of the workloads sent on the work socket, in order, from the oldest not
        #: known to be reported; and whether a process died since `_find_taken` last looked.
        self._on_work_socket: deque[tuple[int, int]] = deque()
        self._find_taken_due = False
        #: Where the zygote announces its spares; and those announced and not used yet, as
        #: (pid, the write end of the pipe it waits on), oldest first.
        self._spare_channel: socket.socket | None = None
        self._spares: deque[tuple[int, int]] = deque()
        #: Tries handed back, and how often: by a spare or a reused worker forked before their
        #: DAG version was loaded (REQUEUE), or by a spare that died before it started them.
        #: The zygote forks a child for such a try, or says why it cannot: at once for a
        #: spare's (the other spare may lack the version too), and the second time for a
        #: worker's (workers forked since have the version; but one the zygote failed to load
        #: would go round the workers for ever).
        self._handed_back: dict[tuple[TaskInstanceKey, int], int] = {}
        #: (when sent, seq) of the workloads on the work socket no worker has started, oldest
        #: first, until each starts or has waited GROW_AFTER_S (a worker is asked for then).
        self._unstarted: deque[tuple[float, int]] = deque()
        self.hostname = socket.gethostname()
        self._conn: Channel | None = None
        self._results: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._payloads: dict[int, DagPayload] = {}
        self._verified: set[int] = set()
        self._sent_versions: set[int] = set()
        self._waiting: deque[Workload] = deque()
        self._seq = 0
        self._in_flight: dict[int, _Flight] = {}
        self._by_pid: dict[int, int] = {}
        #: One result datagram at a time (children send at most RESULT_CHUNK + a header);
        #: reused, since socket.recv(n) would allocate n bytes for every message.
        self._inbox = bytearray(2 * RESULT_CHUNK)
        #: Cancelled tries whose process is not known yet: killed when they start.
        self._cancelled: set[tuple[TaskInstanceKey, int]] = set()

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        results, children = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._spare_channel, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._spare_channel.setblocking(False)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SECRET_ENV_PREFIX)}
        env.update(self.try_environment)
        argv = [sys.executable, "-m", "taskkit.execution.worker"]
        passed: list[socket.socket | IO[bytes]] = [theirs, children, zygote_end]
        if self.reuse_processes:
            self._work, workers = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self._work.setblocking(False)
            self._work_queue = workers.dup()
            self._work_lock = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _lost_worker)
            passed += [workers, self._work_lock]
        argv += [str(s.fileno()) for s in passed]
        if self.reuse_processes:
            least = min(self.capacity, _usable_cpus())
            argv += [str(n) for n in (least, self.capacity, self.reuse_processes)]
            argv += [str(self.reuse_max_rss_mb), repr(self.reuse_idle_timeout)]
        self._process = subprocess.Popen(
            argv, pass_fds=[s.fileno() for s in passed], stdin=subprocess.DEVNULL, env=env
        )
        for end in passed:
            if end is not self._work_lock:
                end.close()
        results.setblocking(False)
        self._conn = Channel(ours.detach())
        self._results = results
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._conn.fileno(), selectors.EVENT_READ)
        self._selector.register(results.fileno(), selectors.EVENT_READ)
        if self.wakeup_fd is not None:
            self._selector.register(self.wakeup_fd, selectors.EVENT_READ)
        self._sent_versions.clear()

    def submit(self, workload: Workload, dag: DagPayload | None) -> None:
        """Queue `workload`; it goes to the zygote, batched with others, on the next poll."""
        if dag is not None:
            self._payloads.setdefault(dag.dag_version_id, dag)
        if workload.dag_version_id not in self._payloads:
            raise ValueError(f"the worker has not seen DAG version {workload.dag_version_id}")
        self._waiting.append(workload)

    def _send_waiting(self) -> list[Event]:
        """Send what fits in capacity as one batch; tries of a payload that fails its check fail."""
        if not self._waiting or len(self._in_flight) >= self.capacity:
            return []
        conn = self._connection()
        if not self.reuse_processes:
            self._read_spares()
        batch: list[tuple[int, int, float | None, bytes]] = []
        failed: list[Event] = []
        while self._waiting and len(self._in_flight) < self.capacity:
            workload = self._waiting.popleft()
            version = workload.dag_version_id
            if version not in self._sent_versions:
                problem = self._verify(version)
                if problem is not None:
                    failed.append(_failed(workload, problem))
                    continue
                if batch:  # keep the order: the version goes before its first workload
                    conn.send(RunTries(batch))
                    batch = []
                conn.send(LoadDag(version, self._payloads[version].payload))
                self._sent_versions.add(version)
            self._seq += 1
            data = encode_workload(workload)
            message = WORK.pack(self._seq, version) + data
            direct = not (self._handed_back and self._to_zygote(workload))
            if direct and self._hand_to_spare(workload, message):
                continue
            if direct and self._work is not None and len(message) <= WORK_MESSAGE_MAX:
                try:
                    self._work.send(message)
                except BlockingIOError:  # the workers are behind: the rest waits here
                    self._waiting.appendleft(workload)
                    break
                self._in_flight[self._seq] = _Flight(workload)
                self._unstarted.append((time.monotonic(), self._seq))
                self._on_work_socket.append((self._seq, len(message)))
                self._forget_reported()
                continue
            self._in_flight[self._seq] = _Flight(workload)
            batch.append((self._seq, version, workload.execution_timeout_s, data))
        if batch:
            conn.send(RunTries(batch))
        return failed

    def _to_zygote(self, workload: Workload) -> bool:
        """Whether a try handed back goes to the zygote this time (see `_handed_back`)."""
        ident = (workload.key, workload.try_number)
        times = self._handed_back.get(ident, 0)
        if times < (2 if self.reuse_processes else 1):
            return False
        del self._handed_back[ident]
        return True

    def _hand_back(self, workload: Workload) -> None:
        """A try comes back unstarted: it goes first in line again."""
        ident = (workload.key, workload.try_number)
        self._handed_back[ident] = self._handed_back.get(ident, 0) + 1
        self._waiting.appendleft(workload)

    def _hand_to_spare(self, workload: Workload, message: bytes) -> bool:
        """Write the workload to a spare's pipe, if one is waiting and it fits; False if not."""
        if len(message) > SPARE_MESSAGE_MAX:
            return False
        while self._spares:
            pid, pipe = self._spares.popleft()
            try:
                os.write(pipe, message)
            except OSError:  # it died waiting (BrokenPipeError): the zygote reports its exit
                continue
            finally:
                os.close(pipe)  # the spare reads to end of file
            self._in_flight[self._seq] = _Flight(workload)
            self._by_pid[pid] = self._seq
            return True
        return False

    def _read_spares(self) -> None:
        """Take the spares the zygote announced: each one's pid and the pipe it waits on."""
        channel = self._spare_channel
        while channel is not None:
            try:
                data, fds, _, _ = socket.recv_fds(channel, SPARE.size, 1, socket.MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                return
            if not data:
                raise EOFError("the spare socket was closed")
            (pid,) = SPARE.unpack(data)
            self._spares.extend((pid, fd) for fd in fds)

    def _drop_spares(self) -> None:
        """Close the pipes of the spares not used: each reads end of file and exits."""
        with contextlib.suppress(OSError, EOFError):  # a zygote gone has taken them along
            self._read_spares()
        while self._spares:
            os.close(self._spares.popleft()[1])

    def _verify(self, version: int) -> str | None:
        if version in self._verified:
            return None
        payload = self._payloads[version]
        try:
            serde.verify(payload.payload, payload.signature, self.secret_key)
        except PayloadIntegrityError as exc:
            return str(exc)
        self._verified.add(version)
        return None

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        try:
            events.extend(self._send_waiting())
            if events:
                timeout = 0
            selector = self._selector
            assert selector is not None
            timeout = self._kill_overdue(timeout)
            if self._work is not None:
                timeout = min(timeout, self._until_grow())
            if self._find_taken_due:  # a worker holds the lock: look again soon
                timeout = min(timeout, FIND_TAKEN_RETRY_S)
            if selector.select(timeout):
                self._collect(events)
                if not self.reuse_processes:
                    self._gather(events)
            if self._find_taken_due:
                self._find_taken(events)
            if self._unstarted:  # after reading, so the tries that started are known
                self._grow_pool()
            events.extend(self._send_waiting())
        except (EOFError, OSError):
            events.extend(self._lost_worker())
            self.start()
            events.extend(self._send_waiting())
        return events

    def _gather(self, events: list[Event]) -> None:
        """Add the events that follow within the gathering window (execution/gathering.py).

        Only with a fresh process per try, where the tries bound throughput and the
        scheduler's wait costs nothing. Reused workers finish tries faster than the
        scheduler decides, so there its waiting cut throughput by ~7%.
        """
        selector = self._selector
        assert selector is not None
        started = time.monotonic()
        while wait := gather_wait(len(events), self.running(), time.monotonic() - started):
            ready = selector.select(wait)
            if not ready:
                return
            self._collect(events)
            if any(key.fd == self.wakeup_fd for key, _ in ready):
                return  # the owner has news (new work, a triggered run): it acts on them now
            events.extend(self._send_waiting())  # slots the finished tries freed

    def _collect(self, events: list[Event]) -> None:
        """Read everything the children and the zygote have sent, into events."""
        self._read_results(events)
        conn = self._connection()
        while conn.poll(0):
            report: ZygoteReport = conn.recv()
            for seq, pid, at in report.forked:
                self._on_forked(seq, pid, at, events)
            if report.exited:
                self._read_results(events)  # a child's result is queued before its exit
                for pid, status, timed_out in report.exited:
                    self._on_exited(pid, status, timed_out, events)
            for seq, reason in report.refused:
                flight = self._in_flight.pop(seq, None)
                if flight is not None:
                    events.append(_failed(flight.workload, reason))
                    _end_log(flight.workload, reason)
            self._read_results(events)

    def _read_results(self, events: list[Event]) -> None:
        results = self._results
        assert results is not None
        while True:
            try:
                size = results.recv_into(self._inbox)
            except BlockingIOError:
                return
            if size == 0:  # end of file: the zygote and every child are gone
                raise EOFError("the result socket was closed")
            message = bytes(self._inbox[:size])
            try:
                seq, kind, pid, started, chunk = unpack_result_header(message)
            except Exception:
                continue  # not ours: whatever a task wrote here is no result
            flight = self._in_flight.get(seq)
            if flight is None:
                continue
            if kind == STARTED:
                self._on_forked(seq, pid, started, events)
                timeout = flight.workload.execution_timeout_s
                if timeout is not None:  # its own alarm fails it first, keeping its XComs
                    flight.deadline = time.monotonic() + timeout + TIMEOUT_GRACE_S
                continue
            if kind == REQUEUE:  # forked before this DAG version was loaded (or it failed to)
                del self._in_flight[seq]
                self._hand_back(flight.workload)
                continue
            flight.chunks.append(chunk)
            if kind == LAST:  # else MORE: the rest follows
                self._on_result(seq, flight, pid, started, events)

    def _on_result(
        self, seq: int, flight: _Flight, pid: int, started: float, events: list[Event]
    ) -> None:
        """A try's whole result came: it is finished."""
        payload, flight.chunks = b"".join(flight.chunks), []
        try:
            finished = decode_result(payload, flight.workload)
        except Exception as exc:
            reason = f"could not read the try's result: {type(exc).__name__}: {exc}"
            finished = _failed(flight.workload, reason)
        if not flight.started:  # its zygote's report is still on the way
            self._on_forked(seq, pid, started, events)
        deadline = flight.deadline
        if deadline is not None and time.monotonic() >= deadline - TIMEOUT_GRACE_S:
            # It ran out of time: what it started in the background dies with it, as the
            # zygote sees to for the tries it forked (a reused worker goes too, replaced).
            _kill_group(pid)
        del self._in_flight[seq]
        self._by_pid.pop(pid, None)
        events.append(finished)

    def _kill_overdue(self, timeout: float) -> float:
        """Kill tries of spares and reused workers past execution_timeout; the time to the next."""
        now = time.monotonic()
        for flight in self._in_flight.values():
            if flight.deadline is None or flight.timed_out:
                continue
            if flight.deadline <= now and flight.pid is not None:
                flight.timed_out = True
                with contextlib.suppress(OSError):
                    os.killpg(flight.pid, signal.SIGKILL)
            else:
                timeout = min(timeout, max(flight.deadline - now, 0.0))
        return timeout

    def _find_taken(self, events: list[Event]) -> None:
        """Hand back the workloads a process took off the work socket and died before reporting.

        Workers hold the work lock from taking a workload until they reported
        it (`TryProcess._take_next`). With the lock held here, every workload
        gone from the socket was reported, and the report is read below, or it
        went with a process that died: such a try would stay queued here for
        good, so it goes first in line again. While a worker holds the lock,
        the next poll looks again.
        """
        lock, queue = self._work_lock, self._work_queue
        assert lock is not None and queue is not None
        try:
            fcntl.lockf(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a worker is between taking a workload and reporting it
            return
        try:
            self._read_results(events)
            unread = _queued_bytes(queue)
        finally:
            fcntl.lockf(lock.fileno(), fcntl.LOCK_UN)
        self._find_taken_due = False
        # What is still queued is the last workloads sent, whole; every one before was taken.
        on_socket = self._on_work_socket
        taken = len(on_socket)
        while taken and unread > 0:
            taken -= 1
            unread -= on_socket[taken][1]
        if unread:
            return  # not a whole number of workloads: leave them be rather than guess
        for _ in range(taken):
            seq, _ = on_socket.popleft()
            flight = self._in_flight.get(seq)
            if flight is not None and not flight.started:
                del self._in_flight[seq]
                self._hand_back(flight.workload)

    def _until_grow(self) -> float:
        """Seconds until the oldest workload not started has waited GROW_AFTER_S (or 1 h)."""
        if not self._unstarted:
            return 3600.0
        return max(self._unstarted[0][0] + GROW_AFTER_S - time.monotonic(), 0.0)

    def _grow_pool(self) -> None:
        """Ask the zygote for a worker for each workload that waited GROW_AFTER_S unstarted."""
        wanted = 0
        due = time.monotonic() - GROW_AFTER_S
        unstarted = self._unstarted
        while unstarted:
            sent, seq = unstarted[0]
            flight = self._in_flight.get(seq)
            if flight is not None and not flight.started:
                if sent > due:
                    break
                wanted += 1
            unstarted.popleft()
        if wanted:
            self._connection().send(AddWorkers(wanted))

    def _forget_reported(self) -> None:
        """Drop the oldest entries of `_on_work_socket` whose workloads were reported."""
        on_socket, in_flight = self._on_work_socket, self._in_flight
        while on_socket:
            flight = in_flight.get(on_socket[0][0])
            if flight is not None and not flight.started:
                return
            on_socket.popleft()

    def _on_forked(self, seq: int, pid: int, at: float, events: list[Event]) -> None:
        flight = self._in_flight.get(seq)
        if flight is None or flight.started:
            return
        flight.pid = pid
        flight.started = True
        self._by_pid[pid] = seq
        workload = flight.workload
        if self._handed_back:  # it was handed back before, and now runs
            self._handed_back.pop((workload.key, workload.try_number), None)
        if (workload.key, workload.try_number) in self._cancelled:
            self._cancelled.discard((workload.key, workload.try_number))
            _kill_group(pid)
        started_at = dt.datetime.fromtimestamp(at, _UTC)
        events.append(TryStarted(workload.key, workload.try_number, pid, self.hostname, started_at))

    def _on_exited(self, pid: int, status: int, timed_out: bool, events: list[Event]) -> None:
        if self._work is not None:  # it may have died holding a workload it took
            self._find_taken_due = True
        seq = self._by_pid.pop(pid, None)
        flight = self._in_flight.pop(seq, None) if seq is not None else None
        if flight is None:
            return  # it reported its result already, or it was a spare nothing was sent to
        workload = flight.workload
        ident = (workload.key, workload.try_number)
        if not flight.started and ident not in self._cancelled:
            # A spare that died before it reported STARTED (results are read before exits)
            # never began the try: it goes to the zygote, as if it had just come.
            self._hand_back(workload)
            return
        self._cancelled.discard(ident)
        if timed_out or flight.timed_out:
            reason = f"execution_timeout of {workload.execution_timeout_s:g}s exceeded; killed"
        else:
            reason = f"worker process {describe_exit(status)} without reporting a result"
        events.append(_failed(workload, reason))
        _end_log(workload, reason)

    def running(self) -> int:
        return len(self._in_flight) + len(self._waiting)

    def join(self, scheduler_id: int) -> None:
        """Results come back through pipes of this process: nothing is shared to name."""

    def adopt(self, tis: Sequence[TI], previous: Sequence[int] = ()) -> list[TI]:
        """Tries die with the scheduler that ran them (the zygote is its child): adopt none."""
        return list(tis)

    def cancel(self, key: TaskInstanceKey, try_number: int) -> None:
        ident = (key, try_number)
        self._waiting = deque(w for w in self._waiting if (w.key, w.try_number) != ident)
        for flight in self._in_flight.values():
            workload = flight.workload
            if (workload.key, workload.try_number) != ident:
                continue
            if flight.pid is None:
                self._cancelled.add(ident)
            else:  # its death comes back as a (stale) TryFinished
                _kill_group(flight.pid)

    def shutdown(self, grace: float) -> list[Event]:
        if self._conn is None:
            return []
        self._waiting.clear()  # not started: nothing to report, the scheduler reschedules them
        events: list[Event] = []
        try:
            self._conn.send(Shutdown(grace))
        except OSError:
            return self._lost_worker()
        self._drop_spares()
        if self._work is not None:  # idle reusable workers read end of file and exit
            self._work.close()
            self._work = None
        deadline = time.monotonic() + grace + 5
        while self._in_flight and time.monotonic() < deadline:
            try:
                assert self._selector is not None
                if self._selector.select(0.2):
                    self._collect(events)
            except (EOFError, OSError):
                break
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return events + self._lost_worker()

    def _connection(self) -> Channel:
        if self._conn is None:
            raise RuntimeError("the executor was not started")
        return self._conn

    def _lost_worker(self) -> list[Event]:
        """The zygote is gone: every try it held is failed, and killed if it still runs.

        A zygote that dies abruptly cannot kill its children, and a try that
        goes on running unobserved could run twice once it is retried.
        """
        lost: list[Event] = []
        for flight in self._in_flight.values():
            if flight.pid is not None:
                with contextlib.suppress(OSError):
                    os.killpg(flight.pid, signal.SIGKILL)  # each try leads its own process group
            lost.append(_failed(flight.workload, "the worker process died; the try was lost"))
        self._in_flight.clear()
        self._by_pid.clear()
        self._unstarted.clear()
        self._on_work_socket.clear()
        self._find_taken_due = False
        self._handed_back.clear()
        self._drop_spares()
        if self._spare_channel is not None:
            self._spare_channel.close()
            self._spare_channel = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._results is not None:
            self._results.close()
            self._results = None
        for closable in (self._work, self._work_queue, self._work_lock):
            if closable is not None:
                closable.close()
        self._work = self._work_queue = self._work_lock = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            self._process.wait()
        return lost


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _queued_bytes(sock: socket.socket) -> int:
    """Bytes queued to be read on a SOCK_SEQPACKET socket: all its messages' (Linux's SIOCINQ)."""
    count = array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, count, True)
    return count[0]


def _kill_group(pid: int) -> None:
    """SIGKILL a try's process group (each try leads its own), if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _failed(workload: Workload, reason: str) -> TryFinished:
    result = TryResult(TryOutcome.FAILED, error=reason)
    return TryFinished(workload.key, workload.try_number, result, at=dt.datetime.now(_UTC))


def _end_log(workload: Workload, reason: str) -> None:
    """Write the last line of a try that could not write it itself (best effort)."""
    key = workload.key
    bound: dict[str, Any] = bound_keys(
        key.dag_id, key.run_id, key.task_id, workload.try_number, map_index=key.map_index
    )
    with contextlib.suppress(OSError):
        fd = open_log(workload.log_path)
        try:
            finish_log(
                fd, bound, workload.max_log_bytes, finished_line(bound, "failed", 0.0, reason)
            )
        finally:
            os.close(fd)


class SequentialExecutor(LocalExecutor):
    """One try at a time, still each in its own child process: its capacity is always 1."""

    def __init__(
        self,
        secret_key: bytes,
        *,
        try_environment: Mapping[str, str] | None = None,
        wakeup_fd: int | None = None,
    ) -> None:
        super().__init__(1, secret_key, try_environment=try_environment, wakeup_fd=wakeup_fd)
