"""What crosses the process boundary (Workload, events) and the Executor protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import EncodedXComSequence, TryResult
from taskkit.states import State


@attrs.frozen
class EncodedXCom:
    """An XCom value as it is stored and travels: encoded by the try that pushed it.

    Only tries decode values, so the scheduler never unpickles user data.
    `length` is the value's length when it is a list, tuple or dict (None
    otherwise), recorded as it is encoded: a mapped task downstream is
    expanded from it without decoding.
    """

    data: bytes = attrs.field(repr=False)
    encoding: str
    length: int | None = None


@attrs.frozen
class Workload:
    """Everything a worker needs to run one try, and nothing it would have to look up.

    The DAG itself travels separately, once per version (see DagPayload), so a
    workload stays small. Upstream XCom values travel with it, so workers never
    read or write the metastore: the scheduler is the one writer.
    """

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    dag_version_id: int
    logical_date: dt.datetime
    conf: Mapping[str, Any]
    run_type: str
    log_path: str
    #: The values the try may pull: its own and its ancestors', by (task_id, key); a mapped
    #: ancestor's values come as one sequence.
    upstream_xcoms: Mapping[tuple[str, str], EncodedXCom | EncodedXComSequence] = attrs.Factory(
        dict
    )
    execution_timeout_s: float | None = None
    data_interval_start: dt.datetime | None = None
    data_interval_end: dt.datetime | None = None
    #: logging.max_task_log_bytes; None means its default (100 MiB).
    max_log_bytes: int | None = None
    #: core.enable_xcom_pickling: values JSON cannot hold are pickled (unsigned; the
    #: scheduler signs what it stores), else they fail the try.
    enable_xcom_pickling: bool = False
    #: When a reschedule-mode sensor's try began poking, if this poke continues it.
    first_poke_at: dt.datetime | None = None


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

    def start(self) -> None:
        """Start worker processes; called once before the first submit."""

    def submit(self, workload: Workload, dag: DagPayload | None) -> None:
        """Run `workload`; `dag` is given when this executor has not seen that version yet."""

    def poll(self, timeout: float) -> list[Event]:
        """Events since the last poll, waiting up to `timeout` seconds for the first one."""

    def running(self) -> int:
        """How many submitted tries have not finished yet."""

    def adopt(self, tis: Sequence[TI]) -> list[TI]:
        """At start-up, take over tries a previous scheduler left running; returns the rest.

        Those returned are orphans the scheduler resets. Executors whose tries die with
        the scheduler (Local, Sequential) adopt none.
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
