"""The metastore's rows: SQLAlchemy 2.0 typed models. Rows never leave `taskkit.metastore`.

Enums are stored as their values in plain VARCHAR columns (no native enum,
no CHECK constraint) so SQLite and PostgreSQL behave alike and migrations
stay simple. Timestamps are stored in UTC and always read back aware.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    inspect,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskkit.states import RunState, RunType, SchedulerState, State

#: The Alembic revision this code expects; a test checks it is the scripts' head.
SCHEMA_REVISION = "0013"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC; naive datetimes are refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"Naive datetime {value!r}: the metastore needs aware datetimes.")
        utc = value.astimezone(dt.timezone.utc)
        # SQLite has no time zones; store naive UTC text that sorts correctly.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def as_aware_utc(value: dt.datetime) -> dt.datetime:
    """A datetime read outside a UTCDateTime column (an aggregate) as aware UTC."""
    if isinstance(value, str):  # SQLite returns MAX() of a timestamp as text
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _enum_column(enum_cls: type[enum.Enum]) -> SAEnum:
    return SAEnum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        create_constraint=False,
        length=20,
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with taskkit's naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DagRow(Base):
    """One DAG id seen in the DAGs folder, with its current version and pause flag."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    current_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    schedule: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The logical date (interval start) of the next scheduled run, and when it may be created.
    next_run: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_run_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    max_active_runs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_active_tasks: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DagVersionRow(Base):
    """One serialized version of a DAG; runs execute the version they were created with."""

    __tablename__ = "dag_version"
    __table_args__ = (UniqueConstraint("dag_id", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(250), ForeignKey("dag.dag_id"))
    version_number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    fileloc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The pickled DagSpec alone and its signature (serde.sign_spec), what the scheduler
    #: reads; NULL for a version stored before revision 0013 until its file is parsed again.
    spec: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    spec_signature: Mapped[str | None] = mapped_column(String(64), nullable=True)


_INTERVAL_RUNS = f"run_type IN ('{RunType.SCHEDULED.value}', '{RunType.BACKFILL.value}')"


class DagRunRow(Base):
    """One run of a DAG."""

    __tablename__ = "dag_run"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id"),
        Index("ix_dag_run_state_dag_id", "state", "dag_id"),
        # The UI's grid and run lists read a DAG's newest runs first.
        Index("ix_dag_run_dag_id_logical_date", "dag_id", "logical_date"),
        # Two scheduled or backfill runs for one interval would run it twice;
        # manual runs may share dates.
        Index(
            "uq_dag_run_interval_logical_date",
            "dag_id",
            "logical_date",
            unique=True,
            sqlite_where=text(_INTERVAL_RUNS),
            postgresql_where=text(_INTERVAL_RUNS),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(250), ForeignKey("dag.dag_id"))
    run_id: Mapped[str] = mapped_column(String(250))
    logical_date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    run_type: Mapped[RunType] = mapped_column(_enum_column(RunType))
    state: Mapped[RunState] = mapped_column(_enum_column(RunState))
    conf: Mapped[dict[str, Any]] = mapped_column(JSON)
    dag_version_id: Mapped[int] = mapped_column(Integer, ForeignKey("dag_version.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    data_interval_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    data_interval_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A backfill's cap on how many of its DAG's backfill runs run at once (None: no own cap).
    max_active_runs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The scheduler that owns this active run (docs/distributed.md); None while nobody does.
    scheduler_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class TaskInstanceRow(Base):
    """One task instance (a task, or one instance of a mapped task) in one run.

    Its state, tries and the slots it occupies. `map_index` is -1 unless the
    task is mapped and was expanded; then rows 0..n-1 replace the -1 row.
    """

    __tablename__ = "task_instance"
    __table_args__ = (
        Index("ix_task_instance_dag_run_id_state", "dag_run_id", "state"),
        Index("ix_task_instance_state_pool", "state", "pool"),
        # Covers the UI's grid: a run's cells are read from the index alone.
        Index("ix_task_instance_grid", "dag_run_id", "task_id", "state", "try_number"),
    )

    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("-1"))
    dag_run_id: Mapped[int] = mapped_column(Integer, ForeignKey("dag_run.id", ondelete="CASCADE"))
    state: Mapped[State] = mapped_column(_enum_column(State))
    #: Tries started so far: 0 before the first.
    try_number: Mapped[int] = mapped_column(Integer)
    max_tries: Mapped[int] = mapped_column(Integer)
    pool: Mapped[str] = mapped_column(String(256))
    pool_slots: Mapped[int] = mapped_column(Integer)
    priority_weight: Mapped[int] = mapped_column(BigInteger)
    queue: Mapped[str] = mapped_column(String(256))
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wait_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: When the current try's first poke began, while a reschedule-mode sensor's try spans
    #: several pokes: its next poke continues that try, and its timeout counts from here.
    first_poke_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A mapped instance's map_index_template as its last try rendered it.
    rendered_map_index: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Set while the try is deferred or resuming: the operator method the resumed try calls
    #: and its keyword arguments (tagged JSON; the trigger's event joins them when it fires).
    #: A deferred instance's timeout is its next_retry_at.
    next_method: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    next_kwargs: Mapped[str | None] = mapped_column(Text, nullable=True)


class XComRow(Base):
    """A value a task instance pushed; `encoding` says whether `value` is JSON or a pickle.

    `length` is the value's length when it is a list, tuple or dict: a mapped
    task expands over it without the scheduler decoding the value.
    """

    __tablename__ = "xcom"

    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("-1"))
    key: Mapped[str] = mapped_column(String(512), primary_key=True, default="return_value")
    value: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str] = mapped_column(String(16))
    length: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RenderedFieldsRow(Base):
    """A try's template fields as it rendered them (Airflow's rendered_task_instance_fields).

    One row per try, so the UI shows each try's values beside its log;
    `rendered_fields` is a JSON object, each value capped by the try.
    """

    __tablename__ = "rendered_task_instance_fields"

    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    try_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    rendered_fields: Mapped[str] = mapped_column(Text)


class PoolRow(Base):
    """A named pool of slots; occupancy is derived from task instances, never stored."""

    __tablename__ = "pool"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Whether deferred task instances hold their slots of this pool (Airflow's flag).
    include_deferred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TriggerRow(Base):
    """The trigger a deferred task instance waits on, and what it did when it fired.

    Written by the scheduler when the instance defers (one row per task
    instance); the triggerer runs every row whose instance is still deferred
    in that try and writes only `event` (or `error`) and `fired_at`; the
    scheduler then schedules the instance again and deletes the row.
    """

    __tablename__ = "trigger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    task_id: Mapped[str] = mapped_column(String(250))
    map_index: Mapped[int] = mapped_column(Integer)
    try_number: Mapped[int] = mapped_column(Integer)
    classpath: Mapped[str] = mapped_column(String(1000))
    kwargs: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The first event's payload (tagged JSON), or why the trigger failed.
    event: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_trigger_fired_at", "fired_at"),
        Index("uq_trigger_task_instance", "dag_id", "run_id", "task_id", "map_index", unique=True),
    )


class ImportErrorRow(Base):
    """A DAG file that failed to import at its last parse."""

    __tablename__ = "import_error"
    __table_args__ = (Index("ix_import_error_fileloc", "fileloc"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fileloc: Mapped[str] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CeleryWorkerRow(Base):
    """A Celery worker's last heartbeat, written by the worker itself (see model/workers.py)."""

    __tablename__ = "celery_worker"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[list[str]] = mapped_column(JSON)
    concurrency: Mapped[int] = mapped_column(Integer)
    autoscale: Mapped[str | None] = mapped_column(String(32), nullable=True)
    running: Mapped[list[list[Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_heartbeat: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SchedulerRow(Base):
    """One scheduler process: registered at start, heartbeating on every commit (fencing)."""

    __tablename__ = "scheduler"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hostname: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[SchedulerState] = mapped_column(_enum_column(SchedulerState), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UserRow(Base):
    """A person who may log in to the API and UI; the password is stored as an argon2 hash."""

    __tablename__ = "app_user"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Failed logins in a row and when the last one happened: the login rate limit's state.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class VariableRow(Base):
    """A variable; `val` is Fernet ciphertext (services/fernet.py), never the plain value."""

    __tablename__ = "variable"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    val: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConnectionRow(Base):
    """A connection; `password` and `extra` are Fernet ciphertext, the other fields plain."""

    __tablename__ = "connection"

    conn_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(500), nullable=True)
    schema: Mapped[str | None] = mapped_column(String(500), nullable=True)
    login: Mapped[str | None] = mapped_column(Text, nullable=True)
    password: Mapped[str | None] = mapped_column(Text, nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extra: Mapped[str | None] = mapped_column(Text, nullable=True)


metadata = Base.metadata


#: Alembic's own table, recording the revision a database is at.
VERSION_TABLE = "alembic_version"


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in alembic_version, or None if the schema was never created."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


class AssetRow(Base):
    """An asset some DAG names (in a schedule or an outlet), as its latest parse declared it."""

    __tablename__ = "asset"

    uri: Mapped[str] = mapped_column(String(1500), primary_key=True)
    name: Mapped[str] = mapped_column(String(1500))
    group: Mapped[str] = mapped_column(String(1500))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AssetReferenceRow(Base):
    """A DAG's use of an asset: it schedules on it, or one of its tasks produces it."""

    __tablename__ = "asset_reference"

    dag_id: Mapped[str] = mapped_column(String(250), ForeignKey("dag.dag_id"), primary_key=True)
    uri: Mapped[str] = mapped_column(String(1500), primary_key=True)
    #: "schedule", "outlet", or "alias" (the DAG schedules on the AssetAlias named `uri`)
    use: Mapped[str] = mapped_column(String(20), primary_key=True)


class AssetEventRow(Base):
    """One update of an asset: a producing task's success (the scheduler records it)."""

    __tablename__ = "asset_event"
    __table_args__ = (Index("ix_asset_event_uri_id", "uri", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(String(1500))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_dag_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    source_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    source_task_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    source_map_index: Mapped[int] = mapped_column(Integer, default=-1)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AssetAliasAssetRow(Base):
    """An asset an AssetAlias resolved to: an event was added through the alias for it."""

    __tablename__ = "asset_alias_asset"

    alias: Mapped[str] = mapped_column(String(1500), primary_key=True)
    uri: Mapped[str] = mapped_column(String(1500), primary_key=True)


class AssetDagQueueRow(Base):
    """An asset with events a DAG scheduled on it has not consumed yet (from `first_event_id`).

    Rows survive a scheduler restart: the next scheduler creates the runs they make due.
    """

    __tablename__ = "asset_dag_queue"

    target_dag_id: Mapped[str] = mapped_column(
        String(250), ForeignKey("dag.dag_id"), primary_key=True
    )
    uri: Mapped[str] = mapped_column(String(1500), primary_key=True)
    first_event_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
