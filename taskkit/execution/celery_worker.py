"""The worker side of the Celery executor: Celery delivers tries, the zygote runs them.

`taskkit celery worker` runs a real Celery worker with a thread pool. Each
delivered `taskkit.run_try` message is handled by a pool thread, which hands
its workload to one `TryRunner` per worker process and waits for it to end;
the message is acknowledged only then (acks_late). The runner's dispatcher
thread checks that the tries delivered since its last turn are still due (one
metastore query for all of them) and owns a LocalExecutor, so every try
is forked from the same warm zygote as under the Local executor (crash-isolated,
logged, timed out the same way), and it publishes TryStarted, TryFinished and a
periodic WorkerBeat on the event channel named in the message.

This module never touches the metastore: the command line passes in how to
fetch a DAG version and how to read a task instance's state.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import structlog
from celery.exceptions import Reject

from taskkit.errors import BrokerMessageError
from taskkit.execution.base import DagPayload, Event, TryFinished
from taskkit.execution.celery_app import WorkerBeat, unseal
from taskkit.execution.celery_channel import EventChannel, event_channel
from taskkit.execution.local import LocalExecutor
from taskkit.execution.tasklog import log_path
from taskkit.execution.workload import Workload
from taskkit.model.results import TryOutcome, TryResult

if TYPE_CHECKING:
    from taskkit.model.keys import TaskInstanceKey

log = structlog.get_logger(__name__)

#: (dag_version_id) -> the stored, signed DAG version.
FetchDag = Callable[[int], DagPayload]
#: (workloads) -> for each, why it must not run (None: it is still queued with this try
#: number). Called once per batch of delivered tries, so a batch costs one metastore query.
CheckDue = Callable[[Sequence[Workload]], "list[str | None]"]

_Ident = tuple["TaskInstanceKey", int]

#: How long a worker that could not read the metastore waits before handing a message back.
METASTORE_RETRY_S = 1.0


@attrs.define
class _Job:
    """A try handed from a Celery pool thread to the dispatcher."""

    workload: Workload
    events_queue: str
    refusal: str | None = None  #: why this worker must fail it unrun (SQLite across hosts)
    done: threading.Event = attrs.Factory(threading.Event)
    submitted: bool = False  #: handed to the zygote (so it counts in WorkerBeat)
    handed_back: bool = False  #: the worker stopped before the try started: requeue it
    #: The metastore could not be read for it: its message goes back to the broker.
    error: Exception | None = None


class TryRunner:
    """Runs tries for one Celery worker process through a warm zygote; reports on the channel."""

    def __init__(
        self,
        *,
        concurrency: int,
        secret_key: bytes,
        events_url: str,
        logs_folder: Path,
        fetch_dag: FetchDag,
        check_due: CheckDue,
        refuse: str | None = None,
        heartbeat_s: float = 2.0,
        try_environment: Mapping[str, str] | None = None,
        reuse_processes: int = 0,
        reuse_max_rss_mb: int = 1024,
        reuse_idle_timeout: float = 60.0,
    ) -> None:
        self.secret_key = secret_key
        self.events_url = events_url
        self.logs_folder = logs_folder
        self.fetch_dag = fetch_dag
        self.check_due = check_due
        self.refuse = refuse
        self.heartbeat_s = heartbeat_s
        self.hostname = socket.gethostname()
        #: Celery's threads write a byte here after queueing a try, so the dispatcher's poll
        #: hands it to the zygote at once instead of after its poll timeout.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        # The worker's tries run as the Local executor's do, `[local] reuse_processes` included.
        self.executor = LocalExecutor(
            concurrency,
            secret_key,
            reuse_processes=reuse_processes,
            reuse_max_rss_mb=reuse_max_rss_mb,
            reuse_idle_timeout=reuse_idle_timeout,
            try_environment=try_environment,
            wakeup_fd=self._wake_read,
        )
        self._incoming: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._jobs: dict[_Ident, _Job] = {}
        self._lock = threading.Lock()
        self._payloads: dict[int, DagPayload] = {}
        self._channels: dict[str, EventChannel] = {}
        self._stop = threading.Event()
        #: Set by `drain`: the monotonic time by which running tries must have ended.
        self._drain_deadline: float | None = None
        self._drained = threading.Event()
        self._shutdown_timeout = 0.0
        self._next_beat = 0.0
        self._thread = threading.Thread(target=self._dispatch, name="taskkit-tries", daemon=True)

    def start(self) -> None:
        self.executor.start()
        self._thread.start()

    def drain(self, timeout: float) -> None:
        """Let the running tries finish for up to `timeout` seconds, then kill and fail the rest.

        Called when Celery stops the pool (it has stopped consuming): every
        held try is reported, so its message is acknowledged and it is
        neither lost nor run again. A try delivered from now on is handed
        back to the broker for another worker.
        """
        with self._lock:
            self._drain_deadline = time.monotonic() + timeout
            self._shutdown_timeout = timeout
        if self._thread.is_alive():
            self._drained.wait()

    def running_tries(self) -> list[_Ident]:
        """The tries this worker holds now."""
        with self._lock:
            return list(self._jobs)

    def stop(self) -> None:
        """Stop after the running tries (Celery's warm shutdown has drained them)."""
        self._stop.set()
        self._thread.join(10)
        self.executor.shutdown(0)
        os.close(self._wake_read)
        os.close(self._wake_write)
        for channel in self._channels.values():
            channel.close()

    # -- in a Celery pool thread ---------------------------------------------------------

    def run(self, events_queue: str, sealed: str, scheduler_host: str) -> None:
        """The body of the `taskkit.run_try` task: run its tries, return when all have ended.

        A message holds the tries the scheduler queued together (up to
        celery.tries_per_message). A message that is not tries sealed with this
        installation's key is logged as one warning and dropped (Celery
        acknowledges it).
        """
        try:
            workloads = unseal(sealed, self.secret_key)
        except BrokerMessageError as exc:
            log.warning("celery_try_message_dropped", reason=str(exc))
            return
        if isinstance(workloads, Workload):  # one try per message (celery.tries_per_message 1)
            workloads = (workloads,)
        if not isinstance(workloads, tuple) or not all(
            isinstance(workload, Workload) for workload in workloads
        ):
            log.warning("celery_try_message_dropped", reason=f"not tries: {type(workloads)}")
            return
        refusal = self._refusal(scheduler_host)
        jobs = [self._job(workload, events_queue, refusal) for workload in workloads]
        with self._lock:
            if self._drain_deadline is not None:
                log.info("try_handed_back", reason="the worker is stopping", tries=len(jobs))
                raise Reject("the worker is stopping", requeue=True)
            taken: list[_Job] = []
            for job in jobs:
                ident = (job.workload.key, job.workload.try_number)
                if ident in self._jobs:
                    _bound(job.workload).info("try_already_running_here")
                    continue
                self._jobs[ident] = job
                taken.append(job)
        # The dispatcher checks they are still due (with whatever else arrived meanwhile: one
        # metastore query per batch) and hands them to the zygote.
        for job in taken:
            self._incoming.put(job)
        os.write(self._wake_write, b"!")
        for job in taken:
            job.done.wait()
        failed = [job.error for job in taken if job.error is not None]
        if failed:
            # The metastore could not be read: the tries' states are unknown, so hand the
            # message back (acknowledging a failed task would lose its tries, and the
            # scheduler would wait on them in `queued` for good). The pause keeps an outage
            # from turning into a hot redelivery loop.
            log.warning(
                "try_handed_back",
                reason="the metastore could not be read to check the tries are due",
                error=f"{type(failed[0]).__name__}: {failed[0]}"[:300],
                retry_in_s=METASTORE_RETRY_S,
            )
            time.sleep(METASTORE_RETRY_S)
            raise Reject("the metastore could not be read", requeue=True)
        if any(job.handed_back for job in taken):
            # Tries of the message that ran are dropped as no longer due when it comes back.
            log.info("try_handed_back", reason="the worker stopped before it started")
            raise Reject("the worker stopped before the try started", requeue=True)

    def _job(self, workload: Workload, events_queue: str, refusal: str | None) -> _Job:
        here = log_path(
            self.logs_folder,
            *_parts(workload.key),
            workload.try_number,
            map_index=workload.key.map_index,
        )
        return _Job(attrs.evolve(workload, log_path=str(here)), events_queue, refusal=refusal)

    def _refusal(self, scheduler_host: str) -> str | None:
        if self.refuse is not None and scheduler_host != self.hostname:
            return self.refuse.format(worker=self.hostname, scheduler=scheduler_host)
        return None

    def _payload(self, version_id: int) -> DagPayload:
        with self._lock:
            found = self._payloads.get(version_id)
        if found is None:
            found = self.fetch_dag(version_id)
            with self._lock:
                self._payloads[version_id] = found
        return found

    # -- in the dispatcher thread --------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            if self._drain_deadline is not None:
                self._drain_now(self._drain_deadline)
                return
            self._take_incoming()
            for event in self.executor.poll(0.1):  # new tries wake it at once (the pipe)
                self._report(event)
            self._beat_if_due()

    def _drain_now(self, deadline: float) -> None:
        """Wait for the running tries until `deadline`, kill the rest, report every one."""
        self._take_incoming()
        killed = f"{self.hostname} was stopping and the try did not finish within " + (
            f"celery.worker_shutdown_timeout ({self._shutdown_timeout:g}s); it was killed"
        )
        while self.executor.running() and time.monotonic() < deadline:
            for event in self.executor.poll(0.1):
                self._report(event)
            self._beat_if_due()
        for event in self.executor.shutdown(0):
            if isinstance(event, TryFinished) and event.result.outcome is TryOutcome.FAILED:
                error = f"the Celery worker on {killed}"
                self._report(attrs.evolve(event, result=attrs.evolve(event.result, error=error)))
            else:
                self._report(event)
        with self._lock:
            left = list(self._jobs.values())
            self._jobs.clear()
        for job in left:  # never started in the zygote: nothing ran, hand it back
            job.handed_back = True
            job.done.set()
        self._drained.set()

    def _beat_if_due(self) -> None:
        if time.monotonic() >= self._next_beat:
            self._beat()
            self._next_beat = time.monotonic() + self.heartbeat_s

    def _take_incoming(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 4096):  # every wake-up so far is answered here
                pass
        jobs: list[_Job] = []
        with contextlib.suppress(queue.Empty):
            while True:
                jobs.append(self._incoming.get_nowait())
        if not jobs:
            return
        for job in jobs:
            if job.refusal is not None:
                self._fail_unrun(job, job.refusal)
        self._start_due([job for job in jobs if job.refusal is None])

    def _start_due(self, jobs: list[_Job]) -> None:
        """Hand the tries still due to the zygote; drop the others (redelivered, superseded)."""
        if not jobs:
            return
        try:
            reasons = self.check_due([job.workload for job in jobs])
        except Exception as exc:  # the metastore is unreachable: each message is handed back
            for job in jobs:
                self._give_back(job, error=exc)
            return
        for job, reason in zip(jobs, reasons, strict=True):
            if reason is not None:
                # A redelivered or superseded message: the try ran, runs, or was replaced.
                _bound(job.workload).info("try_not_due", reason=reason)
                self._give_back(job)
                continue
            try:
                payload = self._payload(job.workload.dag_version_id)
            except Exception as exc:  # its try is due, so it fails with the reason (retries apply)
                version = job.workload.dag_version_id
                self._fail_unrun(job, f"could not load DAG version {version}: {exc!r}"[:500])
                continue
            job.submitted = True
            self.executor.submit(job.workload, payload)

    def _fail_unrun(self, job: _Job, reason: str) -> None:
        """Report a try this worker cannot run as failed, with the reason, without running it."""
        _bound(job.workload).error("try_refused", reason=reason)
        failed = TryResult(TryOutcome.FAILED, error=reason)
        self._report(TryFinished(job.workload.key, job.workload.try_number, failed))

    def _give_back(self, job: _Job, error: Exception | None = None) -> None:
        """End a job that did not start: its Celery thread returns (or raises `error`)."""
        with self._lock:
            self._jobs.pop((job.workload.key, job.workload.try_number), None)
        job.error = error
        job.done.set()

    def _report(self, event: Event) -> None:
        ident = (event.key, event.try_number)
        with self._lock:
            job = self._jobs.get(ident)
        if job is None:
            return
        self._channel(job.events_queue).publish(event)
        if isinstance(event, TryFinished):
            with self._lock:
                self._jobs.pop(ident, None)
            job.done.set()

    def _beat(self) -> None:
        by_queue: dict[str, list[_Ident]] = {}
        with self._lock:
            for ident, job in self._jobs.items():
                if not job.submitted:
                    continue
                by_queue.setdefault(job.events_queue, []).append(ident)
        for name, tries in by_queue.items():
            self._channel(name).publish(WorkerBeat(self.hostname, os.getpid(), tuple(tries)))

    def _channel(self, name: str) -> EventChannel:
        if name not in self._channels:
            self._channels[name] = event_channel(self.events_url, name, self.secret_key)
        return self._channels[name]


def _bound(workload: Workload) -> Any:
    """The worker's logger bound to one try."""
    key = workload.key
    return log.bind(
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        try_number=workload.try_number,
    )


def _parts(key: TaskInstanceKey) -> tuple[str, str, str]:
    return key.dag_id, key.run_id, key.task_id
