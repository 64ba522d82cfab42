"""Frozen value objects the Metastore returns and accepts; rows never leave the package."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import attrs

from taskkit.model.keys import TaskInstanceKey
from taskkit.states import RunState, RunType, State


@attrs.frozen
class PoolRecord:
    """A pool with the slots its queued and running task instances occupy right now."""

    name: str
    slots: int
    description: str | None
    running: int = 0
    queued: int = 0
    #: Whether deferred task instances hold slots of this pool, and how many they hold.
    include_deferred: bool = False
    deferred: int = 0

    @property
    def open_slots(self) -> int:
        """Slots not held by queued, running (or, if it includes them, deferred) instances.

        Negative if the pool was shrunk below its use.
        """
        held = self.deferred if self.include_deferred else 0
        return self.slots - self.running - self.queued - held


@attrs.frozen
class DagRecord:
    """What the metastore knows about a DAG id, without its payload."""

    dag_id: str
    fileloc: str
    is_active: bool
    is_paused: bool
    current_version_id: int | None
    schedule: str | None
    next_run: dt.datetime | None
    max_active_runs: int | None
    max_active_tasks: int | None
    description: str | None
    tags: list[str]
    updated_at: dt.datetime
    #: When the next scheduled run (logical date `next_run`) may be created: its interval's end.
    next_run_after: dt.datetime | None = None


@attrs.frozen
class DagFlags:
    """The few DAG columns the scheduler reads every refresh (a cheap query by design)."""

    dag_id: str
    is_active: bool
    is_paused: bool
    current_version_id: int | None
    max_active_runs: int | None


@attrs.frozen
class DagVersionRecord:
    """One stored DAG version: the signed cloudpickle payload and its hash."""

    id: int
    dag_id: str
    version_number: int
    content_hash: str
    signature: str
    payload: bytes = attrs.field(repr=False)
    fileloc: str
    created_at: dt.datetime
    #: The signed DagSpec alone (None: stored before it was kept, read from the payload).
    spec: bytes | None = attrs.field(default=None, repr=False)
    spec_signature: str | None = None


@attrs.frozen
class SavedVersion:
    """The outcome of `save_dag_version`: the current version and whether it is new."""

    version_id: int
    version_number: int
    created: bool


class RunColumn(enum.Enum):
    """A dag_run column a list of runs may be ordered by (its value is the column's name)."""

    ID = "id"
    DAG_ID = "dag_id"
    RUN_ID = "run_id"
    LOGICAL_DATE = "logical_date"
    RUN_TYPE = "run_type"
    STATE = "state"
    CREATED_AT = "created_at"
    STARTED_AT = "started_at"
    ENDED_AT = "ended_at"
    DATA_INTERVAL_START = "data_interval_start"
    DATA_INTERVAL_END = "data_interval_end"


@attrs.frozen
class RunOrder:
    """How a page of runs is ordered: by `column`, then by id in the same direction."""

    column: RunColumn
    descending: bool = False


#: Newest first: the order lists of runs have unless asked for another.
NEWEST_RUNS_FIRST = RunOrder(RunColumn.LOGICAL_DATE, descending=True)


@attrs.frozen
class RunRecord:
    """One DAG run."""

    id: int
    dag_id: str
    run_id: str
    logical_date: dt.datetime
    run_type: RunType
    state: RunState
    conf: dict[str, Any]
    dag_version_id: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    #: A backfill's own cap on its DAG's running backfill runs (None: only the DAG's limit).
    max_active_runs: int | None = None
    #: The scheduler owning the run while it is active, on PostgreSQL (docs/distributed.md).
    scheduler_id: int | None = None


@attrs.frozen
class TaskInstanceRecord:
    """One task instance: its state, tries, slots and the scheduler's notes on it."""

    dag_id: str
    run_id: str
    task_id: str
    dag_run_id: int
    state: State
    try_number: int
    max_tries: int
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    next_retry_at: dt.datetime | None
    hostname: str | None
    pid: int | None
    heartbeat_at: dt.datetime | None
    wait_reason: str | None
    error: str | None
    updated_at: dt.datetime
    #: -1 unless this is an instance of an expanded mapped task.
    map_index: int = -1
    #: Set while a reschedule-mode sensor waits between pokes of one try (see the table).
    first_poke_at: dt.datetime | None = None
    #: A mapped instance's map_index_template as its last try rendered it.
    rendered_map_index: str | None = None
    #: Set while its try is deferred or resuming (see the table).
    next_method: str | None = None
    next_kwargs: str | None = None

    @property
    def key(self) -> TaskInstanceKey:
        """The (dag_id, run_id, task_id, map_index) key naming this task instance."""
        return TaskInstanceKey(self.dag_id, self.run_id, self.task_id, self.map_index)


class TIProgress(NamedTuple):
    """What the run engine resumes one task instance from when a run is loaded.

    A plain tuple of the few columns it needs, not a TaskInstanceRecord: a run
    of 100,000 tasks is read whole, and its full records take ~1 KB each.
    """

    task_id: str
    map_index: int
    state: State
    try_number: int
    max_tries: int
    next_retry_at: dt.datetime | None
    first_poke_at: dt.datetime | None
    rendered_map_index: str | None
    next_method: str | None
    next_kwargs: str | None


class TIOutcome(NamedTuple):
    """What a finished run's summary reads of each of its task instances."""

    task_id: str
    state: State
    try_number: int
    started_at: dt.datetime | None


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Marks a TIChange field that the change leaves as it is.
UNSET: Final = _Unset.UNSET


#: One shared set per single expected state: a batch of 100,000 changes would otherwise
#: hold 100,000 equal 216-byte frozensets.
_ONLY: Final = {state: frozenset({state}) for state in State}


def _frozen_states(value: object) -> frozenset[State]:
    if isinstance(value, State):
        return _ONLY[value]
    assert isinstance(value, (set, frozenset, list, tuple))
    return frozenset(State(v) for v in value)


@attrs.frozen
class TIChange:
    """A conditional change to one task instance: applied only if its state is in `expected`.

    Fields left UNSET are not touched; set one to None to clear it.
    """

    key: TaskInstanceKey
    expected: frozenset[State] = attrs.field(converter=_frozen_states)
    state: State | _Unset = UNSET
    try_number: int | _Unset = UNSET
    max_tries: int | _Unset = UNSET
    queued_at: dt.datetime | _Unset | None = UNSET
    started_at: dt.datetime | _Unset | None = UNSET
    ended_at: dt.datetime | _Unset | None = UNSET
    next_retry_at: dt.datetime | _Unset | None = UNSET
    hostname: str | _Unset | None = UNSET
    pid: int | _Unset | None = UNSET
    heartbeat_at: dt.datetime | _Unset | None = UNSET
    wait_reason: str | _Unset | None = UNSET
    error: str | _Unset | None = UNSET
    first_poke_at: dt.datetime | _Unset | None = UNSET
    rendered_map_index: str | _Unset | None = UNSET
    next_method: str | _Unset | None = UNSET
    next_kwargs: str | _Unset | None = UNSET

    def values(self) -> dict[str, object]:
        """The columns this change sets, by name (on the scheduler's hot path: kept lean)."""
        values = {name: getattr(self, name) for name in _TI_CHANGE_COLUMNS}
        return {name: value for name, value in values.items() if value is not UNSET}


_TI_CHANGE_COLUMNS = tuple(
    f.name for f in attrs.fields(TIChange) if f.name not in {"key", "expected"}
)


@attrs.frozen
class TriggerWrite:
    """The trigger a task instance's try deferred to, stored with its move to deferred."""

    ti: TaskInstanceKey
    try_number: int
    classpath: str
    kwargs: str


@attrs.frozen
class TriggerRecord:
    """A stored trigger: what to run, for which task instance, and what it did when it fired."""

    id: int
    ti: TaskInstanceKey
    try_number: int
    classpath: str
    kwargs: str
    created_at: dt.datetime
    fired_at: dt.datetime | None = None
    event: str | None = None
    error: str | None = None


@attrs.frozen
class XComWrite:
    """An encoded XCom value to store with a batch of transitions."""

    ti: TaskInstanceKey
    key: str
    value: bytes = attrs.field(repr=False)
    encoding: str
    #: The value's length when it is a list, tuple or dict (what mapping expands over).
    length: int | None = None


@attrs.frozen
class RenderedFieldsWrite:
    """A try's rendered template fields (a JSON object's text) to store with its result."""

    ti: TaskInstanceKey
    try_number: int
    fields_json: str = attrs.field(repr=False)


@attrs.frozen
class ImportErrorRecord:
    """A DAG file that failed to import at its last parse."""

    fileloc: str
    line: int | None
    message: str
    created_at: dt.datetime


@attrs.frozen
class XComRecord:
    """A stored XCom value, still encoded; decode it with taskkit.xcom_codec.decode_xcom."""

    dag_id: str
    run_id: str
    task_id: str
    key: str
    value: bytes = attrs.field(repr=False)
    encoding: str
    created_at: dt.datetime
    map_index: int = -1
    length: int | None = None


@attrs.frozen
class DbStatus:
    """What `check_db` found: reachable, and at which schema revision."""

    url: str
    reachable: bool
    current_revision: str | None
    head_revision: str
    error: str | None = None

    @property
    def up_to_date(self) -> bool:
        """True when the database is reachable and at the revision this code expects."""
        return self.reachable and self.current_revision == self.head_revision


@attrs.frozen
class AssetEventWrite:
    """An asset event a successful try reported, stored with the try's transition."""

    ti: TaskInstanceKey
    uri: str
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    #: The AssetAlias the event was added through, if any: the alias resolves to `uri`.
    alias: str | None = None


@attrs.frozen
class AssetEventRecord:
    """One stored asset event."""

    id: int
    uri: str
    extra: Mapping[str, Any]
    source_dag_id: str | None
    source_run_id: str | None
    source_task_id: str | None
    source_map_index: int
    timestamp: dt.datetime

    def as_json(self) -> dict[str, Any]:
        """JSON-ready, as `assets events -o json`, the API and triggering_asset_events show it."""
        return {
            "id": self.id,
            "uri": self.uri,
            "extra": dict(self.extra),
            "source_dag_id": self.source_dag_id,
            "source_run_id": self.source_run_id,
            "source_task_id": self.source_task_id,
            "source_map_index": self.source_map_index,
            "timestamp": self.timestamp.isoformat(),
        }


@attrs.frozen
class AssetRecord:
    """An asset with the DAGs that produce it and schedule on it, and its latest event."""

    uri: str
    name: str
    group: str
    extra: Mapping[str, Any]
    producing_dags: tuple[str, ...]
    consuming_dags: tuple[str, ...]
    last_event_at: dt.datetime | None
    events: int
