"""What a try is given: its Workload, with the encoded XComs it may pull.

Kept apart from the executor protocol and events (`base.py`) so that
DAG.test(), which runs tries in-process, loads only this: each attrs class
costs ~0.3 ms to create, a noticeable share of a cold DAG.test(). For the
same reason pickle (~2 ms) loads only where a workload is encoded or decoded.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import EncodedXComSequence

if TYPE_CHECKING:
    from taskkit.execution.base import PreviousSuccess


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
    workload stays small. Its ancestors' XCom values travel with it; a try reads
    the metastore for XComs only to pull a task that is not upstream of it (read
    only: the scheduler is the one writer of task instances and XComs).
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
    #: The DAG's last successful run before this one (None if none), read when queued.
    previous_success: PreviousSuccess | None = None
    #: When a reschedule-mode sensor's try began poking, if this poke continues it.
    first_poke_at: dt.datetime | None = None
    #: Set when a deferred try resumes: the method to call instead of execute, and its
    #: keyword arguments (tagged JSON, the trigger's event among them).
    next_method: str | None = None
    next_kwargs: str | None = None
    #: The schedule point before the run's logical date (ActiveRun.previous_point).
    previous_point: dt.datetime | None = None


#: Workload's fields after `key`, in order: what travels after the key's own values.
_FIELDS = tuple(field.name for field in attrs.fields(Workload))[1:]
_values = operator.attrgetter(*_FIELDS)


def encode_workload(workload: Workload) -> bytes:
    """A workload as the Local executor hands it to a worker: a pickled tuple of its values.

    Pickling the attrs instances (the workload and its key) ran copyreg and
    attrs' state methods: ~3.6 us more per try on each side, and 646 bytes
    instead of 235 for a plain task's workload.
    """
    import pickle  # lazy: see the module's note

    key = workload.key
    values = (key.dag_id, key.run_id, key.task_id, key.map_index, *_values(workload))
    return pickle.dumps(values, pickle.HIGHEST_PROTOCOL)


def decode_workload(data: bytes) -> Workload:
    """The workload `encode_workload` encoded."""
    import pickle  # lazy: see the module's note

    dag_id, run_id, task_id, map_index, *values = pickle.loads(data)
    return Workload(TaskInstanceKey(dag_id, run_id, task_id, map_index), *values)
