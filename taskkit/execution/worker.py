"""The forker ("zygote"): keeps DAG versions loaded and forks one fresh child per try.

Forking from a process that has already imported taskkit and unpickled the
DAG makes a fresh, fully isolated process per try cost well under a
millisecond: a crash, os._exit, a segfault or an OOM kill takes down only
that child. Work is split so that each process does only what it alone can:

- the executor (local.py, in the scheduler or Celery worker process) checks
  DAG payload signatures, encodes workloads, turns what it hears into
  TryStarted/TryFinished events, and ends the log of a try that died silently;
- the zygote (here) only forks, reaps and kills. It never opens a log file,
  never reads a try's result and never holds the secret key, so no try's
  problem can take it down, and its heap stays small and frozen (`gc.freeze`),
  which keeps fork() and the children's copy-on-write faults cheap. It forks
  through `forking.Forker` (no CPython after-fork work while it has one
  thread), and runs a few no-op tries in itself at start (`_rehearse`), so
  the children find the code they run already warm;
- the child (try_process.py) opens its own log (a log that cannot be opened
  fails that try alone), points stdout and stderr at it, runs the try and
  sends its result on one socket shared by all children, straight to the
  executor.

When idle, the zygote forks the next tries' processes ahead: `SPARES`
spares, each waiting on a pipe of its own. The zygote hands the pipe's
write end to the executor (its pid and the descriptor, on the spare
socket) and closes its own copy, so the executor writes the spare its
workload itself: a chain's next task starts without waiting for the zygote
to wake up and pass it on. The spare reads it to end of file, tells the
zygote it was taken (its pid on a pipe, so the zygote forks another),
reports STARTED and runs the try like any child. The executor knows which
process has which workload, so a spare that dies before it reported
STARTED ran nothing of the try, which goes to the zygote again. Workloads
beyond the spares come in RunTries and get a child forked each.

Messages on the control socket (pickled attrs classes from execution/base.py):
  executor -> zygote: LoadDag | RunTries | Shutdown
  zygote -> executor: ZygoteReport (what was forked, what exited, what was refused)
On the result socket (SOCK_SEQPACKET) each child sends its encoded result
(with its pid and start time) as `RESULT_HEADER` + chunk messages. The
formats of these, of the spare socket and of the work socket are in
zygote_wire.py.

A try past its execution_timeout first fails inside its own process (the
alarm runtime.run_try sets), so what it pushed before is kept, as in
DAG.test() and Airflow; it is killed only if it is still there
TIMEOUT_GRACE_S later (a task stuck where signals cannot reach it): by the
zygote, or for a try that a spare or a reused worker runs, by the executor,
which alone knows which try such a process runs.

With process reuse (`[local] reuse_processes = N`, opt-in) the zygote also
keeps a pool of long-lived workers that take workloads straight from the
executor on a shared work socket (`WORK` header + pickled workload), report
STARTED (holding a lock while they take one until then, so that the executor
can tell a workload a dying worker took: LocalExecutor._find_taken), run the
try, report the result, and wait for the next one; each
exits after N tries, or when its memory passes the limit, and a crash ends
it like any child. The pool starts at one worker per CPU: short tries keep
that few busy, and each worker more costs a fork, its first tries' page
faults and colder caches for all (a 32-worker pool cost ~0.3 ms more per
no-op try than a 2-worker one). When a workload waits too long for a free
worker the executor asks for more (AddWorkers), up to `parallelism`. The
zygote replaces workers that exit only up to the starting size.
"""

from __future__ import annotations

import _socket  # not socket: that module's enums would weigh on every fork
import contextlib
import datetime as dt
import errno
import gc
import heapq
import logging
import os
import selectors
import signal
import sys
import time
import traceback
from array import array
from typing import Any

# Imported here, in the zygote, so no forked try pays for importing them again.
from taskkit import serde
from taskkit.authoring.dag import DAG
from taskkit.authoring.decorators import task
from taskkit.authoring.masking import MaskingFilter
from taskkit.authoring.secrets import install_source
from taskkit.execution.base import (
    AddWorkers,
    LoadDag,
    RunTries,
    Shutdown,
    ZygoteReport,
)
from taskkit.execution.forking import Forker, wake_only
from taskkit.execution.try_process import TryProcess, libc_prctl
from taskkit.execution.workload import Workload, decode_workload, encode_workload
from taskkit.execution.zygote_wire import (
    SPARE,
    TIMEOUT_GRACE_S,
    Channel,
)
from taskkit.model.keys import TaskInstanceKey
from taskkit.services.secrets_source import MetastoreSecrets

#: Spares kept forked ahead. With one, a chain's next workload often came before the spare
#: forked to replace the one its task took was ready (about a third of hops in a 300-task
#: chain), and then waited for a fork; two keep one ready (docs/performance.md).
SPARES = 2

#: The DAG version the zygote's warm-up tries use (real versions are positive).
_REHEARSAL = -1
#: How many: CPython specialises a function's instructions after its first ~8 calls.
_REHEARSALS = 8


class Zygote:
    """The zygote's event loop; runs in its own process (see `main`)."""

    def __init__(
        self,
        conn: Channel,
        result_fd: int,
        *,
        spare_fd: int | None = None,
        work_fd: int | None = None,
        work_lock: int = -1,
        pool_size: tuple[int, int] = (0, 0),
        reuse: int = 0,
        max_rss_mb: int = 0,
        idle_timeout_s: float = 60.0,
        forker: Forker | None = None,
        rehearse: bool = False,
    ) -> None:
        self.conn = conn
        #: How children are forked: os.fork() unless `main` set up a watching Forker.
        self.forker = forker or Forker()
        self.rehearse = rehearse
        self.work_fd = work_fd
        #: The socket spares are announced to the executor on (SCM_RIGHTS).
        self.spare_channel = _socket.socket(fileno=spare_fd) if spare_fd is not None else None
        #: Reusable workers kept at least, and forked at most (when asked: AddWorkers).
        self.pool_min, self.pool_max = pool_size if work_fd is not None else (0, 0)
        #: Workers the executor asked for and not forked yet (a failed fork is tried again).
        self.owed = 0
        #: How long a worker forked past pool_min waits for a try before it exits.
        self.idle_timeout_s = idle_timeout_s
        #: Reusable workers and spares (see `spares`): children that take their workloads
        #: from the executor directly, whose exits the executor matches to tries by pid.
        self.pool: set[int] = set()
        self.dags: dict[int, Any] = {}
        #: What each child does, with what it needs of this process.
        self.tries = TryProcess(
            self.dags,
            result_fd,
            os.getpid(),
            libc_prctl(),
            work_fd=work_fd,
            work_lock=work_lock,
            reuse=reuse,
            max_rss_pages=max_rss_mb * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE"),
        )
        self.broken: dict[int, str] = {}  # version -> why it could not be loaded
        #: pid -> (seq, when its execution_timeout ends or None) of every child not yet reaped.
        self.children: dict[int, tuple[int, float | None]] = {}
        #: (when it is killed: its timeout plus TIMEOUT_GRACE_S, pid), a heap.
        self.deadlines: list[tuple[float, int]] = []
        self.timed_out: set[int] = set()
        self.forked: list[tuple[int, int, float]] = []
        self.exited: list[tuple[int, int, bool]] = []
        self.refused: list[tuple[int, str]] = []
        self.selector = selectors.DefaultSelector()
        self.draining = False
        self.kill_at: float | None = None
        #: The pids of the spares not taken yet: children forked ahead, each waiting on a pipe
        #: the executor writes one workload to (without process reuse only).
        self.spares: set[int] = set()
        #: A spare writes its pid here (`tries.taken_w`) once it took its workload: fork
        #: another one then.
        self.taken_r = -1
        self.wake_r = self.wake_w = -1

    def serve(self) -> None:
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        # A full pipe already means "wake up": under a long stream of work the loop may not
        # drain it for 65,536 exits, and CPython would print a traceback for each one more.
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, wake_only)
        # The scheduler decides when to stop (and the zygote exits when it goes away): a
        # Ctrl-C or a SIGTERM sent to the whole process group must not lose running tries.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self._recount()  # with Python's SIGINT handler gone
        self.taken_r, self.tries.taken_w = os.pipe()
        os.set_blocking(self.taken_r, False)
        self.selector.register(self.conn.fileno(), selectors.EVENT_READ, "conn")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.selector.register(self.taken_r, selectors.EVENT_READ, "taken")
        self.tries.inherited = (
            self.conn.fileno(),
            self.wake_r,
            self.wake_w,
            self.selector.fileno(),
            self.taken_r,
            *((self.spare_channel.fileno(),) if self.spare_channel is not None else ()),
        )
        if self.rehearse:
            self._rehearse()
        # What the children inherit is frozen out of the collector's sight, and the
        # collector stays off here: the zygote makes no cycles worth collecting, and a GC
        # pass would touch (and so un-share) every page the children have in common.
        gc.freeze()
        gc.disable()
        while not (self.draining and not self.children and not self.pool):
            self._fill_pool()
            timeout = self._timeout()
            want_spare = (
                len(self.spares) < SPARES
                and self.spare_channel is not None
                and bool(self.dags)
                and not self.draining
                and not self.pool_max
            )
            if want_spare:
                # Fork the next try's process only when nothing else is waiting, so the
                # fork never delays noticing a finished try or dispatching a queued one.
                timeout = 0
            ready = self.selector.select(timeout)
            for key, _ in ready:
                if key.data == "conn":
                    self._receive()
                elif key.data == "taken":
                    self._spare_taken()
                else:
                    _drain(self.wake_r)
            self._tend_children()
            if not ready and want_spare:
                self._fork_spare()

    def _rehearse(self) -> None:
        """Run a few tries of a no-op task here, once, so that children start from warm code.

        The first times CPython runs a function it writes to its code object
        (a warm-up counter, then the specialised instructions), and a first
        call may fill a cache or import something. In a child each such write
        copies a page it shares with the zygote, for every try anew; run here
        before the heap is frozen, the children find it done: ~60 fewer page
        faults and ~0.2 ms less CPU per try (docs/performance.md). The tries
        write their logs and results to /dev/null.
        """

        @task
        def rehearsal() -> int:
            return 1

        with DAG("taskkit_rehearsal") as dag:
            rehearsal()
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr, result_fd = os.dup(1), os.dup(2), self.tries.result_fd
        self.tries.result_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        self.dags[_REHEARSAL] = dag
        key = TaskInstanceKey(dag.dag_id, "rehearsal", "rehearsal")
        now = dt.datetime.now(dt.timezone.utc)
        failed = None
        try:
            for number in range(1, _REHEARSALS + 1):
                workload = Workload(key, number, number, _REHEARSAL, now, {}, "manual", os.devnull)
                self.tries.run(0, _REHEARSAL, decode_workload(encode_workload(workload)))
        except Exception as exc:  # only slower children follow; real tries will say what fails
            failed = exc
        finally:
            del self.dags[_REHEARSAL]
            os.close(self.tries.result_fd)
            for fd, saved in ((1, stdout), (2, stderr)):
                os.dup2(saved, fd)
                os.close(saved)
            self.tries.result_fd = result_fd
        if failed is not None:
            print(f"taskkit zygote: its warm-up try failed: {failed!r}", file=sys.stderr)

    def _recount(self) -> None:
        """Have the Forker look at this process again; say once why forks got slower, if so."""
        before = self.forker.why_not_lean
        self.forker.recount()
        why = self.forker.why_not_lean
        if why is not None and why != before:
            print(
                f"taskkit zygote: forking each try through os.fork() from now on, a few tenths "
                f"of a millisecond of CPU more per try: {why}. Tries run as before.",
                file=sys.stderr,
            )

    # -- the control socket ------------------------------------------------------

    def _receive(self) -> None:
        try:
            while True:
                message = self.conn.recv()
                self._handle(message)
                # Under a steady stream of work this loop can run for long, so children are
                # tended as it goes. Left to the main loop, a 100,000-task run piled up
                # thousands of unreaped tries until fork failed for want of process ids,
                # and a try deaf to its timeout would have outlived it.
                self._tend_children()
                if not self.conn.poll(0):
                    break
        except (EOFError, OSError):
            self._gone()

    def _handle(self, message: LoadDag | RunTries | AddWorkers | Shutdown) -> None:
        if isinstance(message, AddWorkers):
            self.owed = min(self.owed + message.count, self.pool_max - len(self.pool))
            self._fill_pool()
        elif isinstance(message, RunTries):
            # Workloads are decoded here, all before the first fork, rather than in each
            # child: there unpickling wrote to ~40 pages shared with the zygote.
            decoded = [(*entry, decode_workload(entry[3])) for entry in message.tries]
            gc.freeze()  # what this batch allocated stays shared too
            for entry in decoded:
                self._start(*entry)
        elif isinstance(message, LoadDag):
            self._load(message.version, message.payload)
        else:  # idle spares read end of file once the executor closes their pipes
            self.draining = True
            self.kill_at = time.monotonic() + message.grace_s

    def _tend_children(self) -> None:
        """Kill tries past their deadline, reap those that exited, and report both."""
        self._enforce_deadlines()
        self._reap()
        self._flush()

    def _flush(self) -> None:
        if not (self.forked or self.exited or self.refused):
            return
        batch = ZygoteReport(self.forked, self.exited, self.refused)
        self.forked, self.exited, self.refused = [], [], []
        try:
            self.conn.send(batch)
        except OSError:  # BrokenPipeError and friends: the scheduler went away
            self._gone()

    def _gone(self) -> None:
        """The scheduler is gone: nobody will record results, so stop now, quietly."""
        for pid in [*self.children, *self.pool]:
            _kill_group(pid)
        os._exit(0)

    def _load(self, version: int, payload: bytes) -> None:
        """Unpickle a DAG version the executor has verified (the zygote holds no key)."""
        if version in self.dags or version in self.broken:
            return
        # The spares waiting now were forked without this version: they hand its workloads
        # back (REQUEUE), and the spares forked after them have it.
        try:
            self.dags[version] = hold_dag(payload)
        except Exception as exc:  # a payload that unpickles here fails its tries, not us
            problem = f"{type(exc).__name__}: {exc}"
            self.broken[version] = f"the DAG version could not be loaded: {problem}"
        self._recount()  # its imports may have started a thread
        gc.freeze()

    # -- children ------------------------------------------------------------------

    def _start(
        self,
        seq: int,
        version: int,
        timeout: float | None,
        data: bytes,
        workload: Workload | None = None,
    ) -> None:
        if version not in self.dags:
            reason = self.broken.get(version, f"DAG version {version} was never sent")
            self.refused.append((seq, reason))
            return
        if self.draining:
            self.refused.append((seq, "the executor is shutting down"))
            return
        decoded = workload or decode_workload(data)
        try:
            pid = self._fork(lambda: self.tries.child(seq, version, decoded))
        except OSError as exc:
            self.refused.append((seq, f"could not fork the try's process: {exc}"))
            return
        now = time.monotonic()
        timeout_at = now + timeout if timeout is not None else None
        self.children[pid] = (seq, timeout_at)
        if timeout_at is not None:
            # The try's own alarm fails it at timeout_at, keeping what it pushed; the kill
            # is for a try deaf to it.
            heapq.heappush(self.deadlines, (timeout_at + TIMEOUT_GRACE_S, pid))
        self.forked.append((seq, pid, time.time()))

    def _fork_spare(self) -> None:
        """Fork a child that sets itself up and waits for the workload the executor writes it.

        Forking ahead takes fork()'s cost off the path from "the scheduler
        queued a try" to "the try runs", which is what a chain of tasks waits
        on; and as the executor writes the spare its workload itself, the hop
        does not wait for this process to wake up and pass it on.
        """
        work_r, work_w = os.pipe()
        try:
            pid = self._fork(lambda: self.tries.spare(work_r, work_w))
        except OSError:
            os.close(work_r)
            os.close(work_w)
            return  # tries are forked when they come, and the next idle pass tries again
        os.close(work_r)
        self.spares.add(pid)
        self.pool.add(pid)
        channel = self.spare_channel
        assert channel is not None
        try:
            channel.sendmsg(
                [SPARE.pack(pid)],
                [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array("i", (work_w,)))],
            )
        except OSError:  # the executor is gone
            self._gone()
        finally:
            os.close(work_w)  # the executor holds the only write end: the spare sees its close

    def _spare_taken(self) -> None:
        """Read the pids of spares that took their workload; the next pass forks another."""
        try:
            taken = os.read(self.taken_r, 4096)
        except BlockingIOError:
            return
        self.spares.difference_update(array("i", taken))

    def _fork(self, body: Any) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = self.forker.fork()
        if pid == 0:  # the child
            try:
                body()
            except BaseException:
                traceback.print_exc()  # reaches the try's log once stderr points there
            finally:
                os._exit(70)
        with contextlib.suppress(OSError):  # also here, so a kill never races the child's call
            os.setpgid(pid, pid)
        return pid

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        while self.deadlines and self.deadlines[0][0] <= now:
            _, pid = heapq.heappop(self.deadlines)
            if pid in self.children and pid not in self.timed_out:
                self.timed_out.add(pid)
                _kill_group(pid)
        if self.kill_at is not None and now >= self.kill_at:
            for pid in [*self.children, *self.pool]:
                _kill_group(pid)

    def _timeout(self) -> float | None:
        deadlines = [d for d, pid in self.deadlines[:1] if pid in self.children]
        if self.deadlines and not deadlines:
            return 0.0  # a stale head: pop it on the next pass
        if self.kill_at is not None:
            deadlines.append(self.kill_at)
        return max(min(deadlines) - time.monotonic(), 0) if deadlines else None

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.pool:
                self.pool.discard(pid)
                self.spares.discard(pid)  # it died waiting, or before it said it took one
                self.exited.append((pid, status, False))
                continue
            entry = self.children.pop(pid, None)
            if entry is None:
                continue
            timeout_at = entry[1]
            timed_out = pid in self.timed_out
            self.timed_out.discard(pid)
            if timeout_at is not None and time.monotonic() >= timeout_at:
                # It ran out of time (its own alarm failed it, or _enforce_deadlines
                # killed it): what it started in the background dies with it.
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
            self.exited.append((pid, status, timed_out))

    def _fill_pool(self) -> None:
        """Fork reusable workers up to the least number, plus those owed, once a DAG is loaded.

        Workers that exit are replaced only up to the least number, and those
        forked past it exit once idle for idle_timeout_s: a pool grown for a
        burst of long tries shrinks back when the burst is over.
        """
        while self.dags and not self.draining and len(self.pool) < self.pool_max:
            extra = len(self.pool) >= self.pool_min
            if extra and not self.owed:
                return
            idle_timeout = self.idle_timeout_s if extra else None
            try:
                pid = self._fork(lambda idle=idle_timeout: self.tries.pool_worker(idle))
            except OSError:
                return  # try again on the next pass
            self.pool.add(pid)
            # Any new worker takes a waiting workload, the first ones too: owing them on
            # would fork workers nothing waits for, each time one exits.
            self.owed = max(self.owed - 1, 0)


def hold_dag(payload: bytes) -> Any:
    """Unpickle a DAG version to fork tries from, without its cached spec.

    fork copies the page tables of all the zygote holds, so each try pays for
    every byte of it; the spec is ~0.4 KB per task and no try reads it (only
    an operator's `priority_weight_total` does, and rebuilds it then).
    """
    dag = serde.loads_dag(payload)
    if isinstance(dag, DAG):
        dag.invalidate()
    return dag


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


def main(argv: list[str]) -> None:
    """Entry point: `python -m taskkit.execution.worker CONTROL RESULTS [SPARES [WORK LOCK ...]]`.

    CONTROL is this process's end of a socketpair with the executor; RESULTS
    the children's end of the SOCK_SEQPACKET pair results go back on; SPARES
    this process's end of the SOCK_SEQPACKET pair spares are announced on
    (-1 or absent: no spares); with process reuse, `WORK LOCK MIN MAX N MB S`:
    WORK the children's end of the SOCK_SEQPACKET pair workloads come on,
    LOCK a file the workers lock while they take a workload, MIN how many
    workers to keep, MAX how many there may be, N how many tries each runs,
    MB its memory limit, S the seconds after which an idle worker past MIN
    exits. No descriptor is passed on to programs the tries exec.
    """
    # First: the DAGs this process loads may register at-fork hooks that the Forker must run.
    forker = Forker.watch()
    control, result_fd = int(argv[1]), int(argv[2])
    spare_fd, work_fd, work_lock, least, most, reuse, max_mb = -1, -1, -1, 0, 0, 0, 0
    idle_timeout_s = 60.0
    if len(argv) >= 4:
        spare_fd = int(argv[3])
    if len(argv) >= 11:  # with process reuse
        work_fd, work_lock, least, most, reuse, max_mb = (int(a) for a in argv[4:10])
        idle_timeout_s = float(argv[10])
    for fd in (control, result_fd, spare_fd, work_fd, work_lock):
        if fd >= 0:
            os.set_inheritable(fd, False)
    # Configured once here; each child's stderr is its log, so its records land there.
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        force=True,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())  # secrets a try read are *** in its log records
    # Tries read variables and connections from the metastore, opened lazily by the try
    # that first needs one (see services/secrets_source.py for the one-writer rule).
    install_source(MetastoreSecrets())
    Zygote(
        Channel(control),
        result_fd,
        spare_fd=spare_fd if spare_fd >= 0 else None,
        work_fd=work_fd if work_fd >= 0 else None,
        work_lock=work_lock,
        pool_size=(least, most),
        reuse=reuse,
        max_rss_mb=max_mb,
        idle_timeout_s=idle_timeout_s,
        forker=forker,
        rehearse=True,
    ).serve()


if __name__ == "__main__":
    main(sys.argv)
