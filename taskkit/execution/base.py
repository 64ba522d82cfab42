"""What executors report (events), the DAG payload they receive, and the Executor protocol.

The Workload a try is given lives in `workload.py`; it is re-exported here
for code that imports it beside the events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, TypeVar

import attrs

from taskkit.execution.workload import EncodedXCom, Workload
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import TryResult
from taskkit.states import State

__all__ = [
    "TI",
    "ActiveTaskInstance",
    "DagPayload",
    "EncodedXCom",
    "Event",
    "Executor",
    "LoadDag",
    "PreviousSuccess",
    "RunTries",
    "Shutdown",
    "TryFinished",
    "TryStarted",
    "Workload",
    "ZygoteReport",
]


@attrs.frozen
class PreviousSuccess:
    """The DAG's last successful run before a try's run, as `prev_*_success` shows it.

    Only the scheduler makes one (DAG.test() has no earlier runs), so it lives
    here rather than beside Workload, keeping DAG.test() from loading it.
    """

    data_interval_start: dt.datetime | None = None
    data_interval_end: dt.datetime | None = None
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    #: Its logical date: Airflow 2's `prev_execution_date_success`.
    logical_date: dt.datetime | None = None

    def run_info_fields(self) -> dict[str, dt.datetime | None]:
        """These values under DagRunInfo's names (its `prev_*_success` fields)."""
        return {
            "prev_data_interval_start_success": self.data_interval_start,
            "prev_data_interval_end_success": self.data_interval_end,
            "prev_start_date_success": self.start_date,
            "prev_end_date_success": self.end_date,
            "prev_logical_date_success": self.logical_date,
        }


@attrs.frozen
class DagPayload:
    """A serialized DAG version, sent to a worker before the first workload that needs it."""

    dag_version_id: int
    payload: bytes
    signature: str


@attrs.frozen
class TryStarted:
    """A worker process started a try."""

    key: TaskInstanceKey
    try_number: int
    pid: int
    hostname: str
    at: dt.datetime


@attrs.frozen
class TryFinished:
    """A try ended (returned, raised, crashed, was killed or timed out)."""

    key: TaskInstanceKey
    try_number: int
    result: TryResult
    at: dt.datetime = attrs.Factory(lambda: dt.datetime.now(dt.timezone.utc))


Event = TryStarted | TryFinished


# -- the Local executor's control messages, to and from its zygote (execution/worker.py) --


@attrs.frozen
class LoadDag:
    """Executor -> zygote: unpickle this DAG version (its signature was checked already)."""

    version: int
    payload: bytes = attrs.field(repr=False)


@attrs.frozen
class RunTries:
    """Executor -> zygote: fork a child for each (seq, DAG version, timeout_s, workload)."""

    tries: list[tuple[int, int, float | None, bytes]]


@attrs.frozen
class Shutdown:
    """Executor -> zygote: start no more tries; kill those still running after `grace_s`."""

    grace_s: float


@attrs.frozen
class AddWorkers:
    """Executor -> zygote: fork `count` more reusable workers (up to its pool's maximum)."""

    count: int


@attrs.frozen
class ZygoteReport:
    """Zygote -> executor: children forked, children exited and tries refused since the last."""

    forked: list[tuple[int, int, float]]  # (seq, pid, started_at)
    exited: list[tuple[int, int, bool]]  # (pid, wait status, timed out)
    refused: list[tuple[int, str]]  # (seq, reason)


class ActiveTaskInstance(Protocol):
    """What `Executor.adopt` reads of a queued or running task instance."""

    @property
    def key(self) -> TaskInstanceKey: ...
    @property
    def state(self) -> State: ...
    @property
    def try_number(self) -> int: ...
    @property
    def hostname(self) -> str | None: ...


TI = TypeVar("TI", bound=ActiveTaskInstance)


class Executor(Protocol):
    """Runs workloads somewhere and reports what happened; decides nothing."""

    #: How many tries it runs at once at most.
    capacity: int
    #: Its tries outlive the scheduler (Celery workers): a successor adopts them, not resets.
    adopts_tries: bool

    def join(self, scheduler_id: int) -> None:
        """This scheduler's id among several on one metastore (PostgreSQL); before `start`."""

    def start(self) -> None:
        """Start worker processes; called once before the first submit."""

    def submit(self, workload: Workload, dag: DagPayload | None) -> None:
        """Run `workload`; `dag` is given when this executor has not seen that version yet."""

    def poll(self, timeout: float) -> list[Event]:
        """Events since the last poll, waiting up to `timeout` seconds for the first one."""

    def running(self) -> int:
        """How many submitted tries have not finished yet."""

    def adopt(self, tis: Sequence[TI], previous: Sequence[int] = ()) -> list[TI]:
        """Take over tries a previous scheduler left running; returns the rest.

        At start-up (one scheduler), or when the dead schedulers `previous`
        were reaped by this one. Those returned are orphans the scheduler
        resets. Executors whose tries die with the scheduler (Local, Sequential) adopt none.
        """

    def cancel(self, key: TaskInstanceKey, try_number: int) -> None:
        """Stop a try the scheduler no longer wants (its run timed out).

        A try not started yet never starts; a running one is killed where the
        executor can reach it. Its TryFinished, if one comes, is stale.
        """

    def shutdown(self, grace: float) -> list[Event]:
        """Let running tries finish for up to `grace` seconds, kill the rest, stop workers.

        Returns the events of tries that ended meanwhile (killed ones included).
        """
