"""The API's request and response bodies, in Airflow 3's /api/v2 shapes (pydantic models).

Only the field names scripts read are Airflow's; each model is built from a
service record by its `of` classmethod, so the mapping lives in one place.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taskkit.metastore import DagRecord, ImportErrorRecord, RunRecord, TaskInstanceRecord
from taskkit.services.dags import DagSummary
from taskkit.services.pools import PoolView
from taskkit.services.users import User
from taskkit.states import RunState

if TYPE_CHECKING:
    from collections.abc import Mapping

    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.model.task import TaskSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DAGResponse(BaseModel):
    """A DAG (GET /api/v2/dags/{dag_id}, and each entry of the list)."""

    dag_id: str
    is_paused: bool
    is_active: bool
    fileloc: str
    description: str | None
    tags: list[dict[str, str]]
    timetable_summary: str | None
    next_dagrun_logical_date: dt.datetime | None
    next_dagrun_run_after: dt.datetime | None
    max_active_runs: int | None
    max_active_tasks: int | None
    last_run_state: str | None = None
    last_run_id: str | None = None

    @classmethod
    def of(cls, dag: DagRecord, last: RunRecord | None = None) -> DAGResponse:
        """From the metastore's record and its newest run."""
        return cls(
            dag_id=dag.dag_id,
            is_paused=dag.is_paused,
            is_active=dag.is_active,
            fileloc=dag.fileloc,
            description=dag.description,
            tags=[{"name": t, "dag_id": dag.dag_id} for t in dag.tags],
            timetable_summary=dag.schedule,
            next_dagrun_logical_date=dag.next_run,
            next_dagrun_run_after=dag.next_run_after,
            max_active_runs=dag.max_active_runs,
            max_active_tasks=dag.max_active_tasks,
            last_run_state=last.state.value if last else None,
            last_run_id=last.run_id if last else None,
        )

    @classmethod
    def of_summary(cls, summary: DagSummary) -> DAGResponse:
        """From a DAG list entry."""
        return cls.of(summary.dag, summary.last_run)


class DAGCollectionResponse(BaseModel):
    """GET /api/v2/dags."""

    dags: list[DAGResponse]
    total_entries: int


class DagStatsStateResponse(BaseModel):
    """One run state's count in a DAG's stats."""

    state: str
    count: int


class DagStatsResponse(BaseModel):
    """One DAG's run counts, one per run state (zeros included), as Airflow lists them."""

    dag_id: str
    dag_display_name: str
    stats: list[DagStatsStateResponse]


class DagStatsCollectionResponse(BaseModel):
    """GET /api/v2/dagStats."""

    dags: list[DagStatsResponse]
    total_entries: int

    @classmethod
    def of(cls, counts: Mapping[str, Mapping[RunState, int]]) -> DagStatsCollectionResponse:
        dags = [
            DagStatsResponse(
                dag_id=dag_id,
                dag_display_name=dag_id,  # taskkit's metastore keeps no display name
                stats=[
                    DagStatsStateResponse(state=s.value, count=found.get(s, 0)) for s in RunState
                ],
            )
            for dag_id, found in counts.items()
        ]
        return cls(dags=dags, total_entries=len(dags))


class DAGPatchBody(_Strict):
    """PATCH /api/v2/dags/{dag_id}."""

    is_paused: bool


class DAGRunResponse(BaseModel):
    """A DAG run."""

    dag_run_id: str
    dag_id: str
    logical_date: dt.datetime
    queued_at: dt.datetime
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    run_type: str
    state: str
    conf: dict[str, Any]
    dag_version_id: int

    @classmethod
    def of(cls, run: RunRecord) -> DAGRunResponse:
        """From the metastore's record."""
        return cls(
            dag_run_id=run.run_id,
            dag_id=run.dag_id,
            logical_date=run.logical_date,
            queued_at=run.created_at,
            start_date=run.started_at,
            end_date=run.ended_at,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            run_type=run.run_type.value,
            state=run.state.value,
            conf=run.conf,
            dag_version_id=run.dag_version_id,
        )


class DAGRunCollectionResponse(BaseModel):
    """GET /api/v2/dags/{dag_id}/dagRuns."""

    dag_runs: list[DAGRunResponse]
    total_entries: int


class TriggerDAGRunPostBody(_Strict):
    """POST /api/v2/dags/{dag_id}/dagRuns."""

    #: Checked by taskkit.validation.run_id (the CLI's and the metastore's rule too).
    dag_run_id: str | None = None
    logical_date: dt.datetime | None = None
    conf: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class DAGRunPatchBody(_Strict):
    """PATCH /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}: mark every task instance."""

    state: Literal["success", "failed"]


class TaskInstanceResponse(BaseModel):
    """A task instance, with the scheduler's wait reason."""

    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int = -1
    #: A mapped instance's map_index_template as its last try rendered it.
    rendered_map_index: str | None = None
    state: str | None
    try_number: int
    max_tries: int
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    queued_when: dt.datetime | None
    duration: float | None
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str
    hostname: str | None
    pid: int | None
    next_retry_at: dt.datetime | None
    wait_reason: str | None
    error: str | None
    #: The template fields as the current try rendered them (only on a single instance's GET).
    rendered_fields: dict[str, Any] = {}
    #: Why it is in its state, as `taskkit tasks why` says it (only on a single instance's GET).
    why: str | None = None

    @classmethod
    def of(
        cls,
        ti: TaskInstanceRecord,
        rendered_fields: dict[str, Any] | None = None,
        why: str | None = None,
    ) -> TaskInstanceResponse:
        """From the metastore's record (and the try's rendered fields and reason, when read)."""
        duration = None
        if ti.started_at and ti.ended_at:
            duration = (ti.ended_at - ti.started_at).total_seconds()
        return cls(
            task_id=ti.task_id,
            dag_id=ti.dag_id,
            dag_run_id=ti.run_id,
            map_index=ti.map_index,
            rendered_map_index=ti.rendered_map_index,
            state=None if ti.state.value == "none" else ti.state.value,
            try_number=ti.try_number,
            max_tries=ti.max_tries,
            start_date=ti.started_at,
            end_date=ti.ended_at,
            queued_when=ti.queued_at,
            duration=duration,
            pool=ti.pool,
            pool_slots=ti.pool_slots,
            priority_weight=ti.priority_weight,
            queue=ti.queue,
            hostname=ti.hostname,
            pid=ti.pid,
            next_retry_at=ti.next_retry_at,
            wait_reason=ti.wait_reason,
            error=ti.error,
            rendered_fields=rendered_fields or {},
            why=why,
        )


class TaskInstanceCollectionResponse(BaseModel):
    """GET .../dagRuns/{dag_run_id}/taskInstances."""

    task_instances: list[TaskInstanceResponse]
    total_entries: int


class PatchTaskInstanceBody(_Strict):
    """PATCH .../taskInstances/{task_id}: mark it (and optionally its downstream)."""

    new_state: Literal["success", "failed"]
    include_downstream: bool = False


class ClearTaskInstancesBody(_Strict):
    """POST /api/v2/dags/{dag_id}/clearTaskInstances."""

    dag_run_id: str
    task_ids: list[str] | None = None
    include_downstream: bool = False
    dry_run: bool = False


class ChangedTaskInstances(BaseModel):
    """Which task instances a clear or mark changed (or would, with dry_run)."""

    task_instances: list[str]
    total_entries: int


class TaskLogResponse(BaseModel):
    """A piece of one try's log, by byte offsets into the file, never the whole file."""

    content: str
    start: int
    end: int
    size: int
    try_number: int
    tries: list[int]


class XComResponse(BaseModel):
    """One XCom value; pickled values are not unpickled by the server."""

    key: str
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int = -1
    timestamp: dt.datetime
    value: Any
    encoding: str


class XComCollectionResponse(BaseModel):
    """GET .../taskInstances/{task_id}/xcomEntries."""

    xcom_entries: list[XComResponse]
    total_entries: int


class PoolResponse(BaseModel):
    """A pool with its slots by what holds them."""

    name: str
    slots: int
    description: str | None
    include_deferred: bool = False
    occupied_slots: int
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    deferred_slots: int
    open_slots: int

    @classmethod
    def of(cls, pool: PoolView) -> PoolResponse:
        """From the service's view."""
        return cls(
            name=pool.name,
            slots=pool.slots,
            description=pool.description,
            include_deferred=pool.include_deferred,
            occupied_slots=pool.occupied_slots,
            running_slots=pool.running_slots,
            queued_slots=pool.queued_slots,
            scheduled_slots=pool.scheduled_slots,
            deferred_slots=pool.deferred_slots,
            open_slots=pool.open_slots,
        )


class PoolCollectionResponse(BaseModel):
    """GET /api/v2/pools."""

    pools: list[PoolResponse]
    total_entries: int


class PoolBody(_Strict):
    """POST /api/v2/pools."""

    name: str
    slots: int = Field(ge=0)
    description: str | None = None
    include_deferred: bool = False


class PoolPatchBody(_Strict):
    """PATCH /api/v2/pools/{name}."""

    slots: int | None = Field(default=None, ge=0)
    description: str | None = None
    include_deferred: bool | None = None


def _time_delta(delta: dt.timedelta | None) -> dict[str, Any] | None:
    """A duration as Airflow's API writes one."""
    if delta is None:
        return None
    return {
        "__type": "TimeDelta",
        "days": delta.days,
        "seconds": delta.seconds,
        "microseconds": delta.microseconds,
    }


class TaskResponse(BaseModel):
    """A task of a DAG's current version (GET /api/v2/dags/{dag_id}/tasks/{task_id})."""

    task_id: str
    operator_name: str
    owner: str
    trigger_rule: str
    depends_on_past: bool
    wait_for_downstream: bool
    retries: int
    retry_delay: dict[str, Any] | None
    retry_exponential_backoff: bool
    execution_timeout: dict[str, Any] | None
    queue: str
    pool: str
    pool_slots: int
    priority_weight: int
    weight_rule: str
    #: taskkit's own: the weight the scheduler orders by, after weight_rule.
    priority_weight_total: int
    max_active_tis_per_dag: int | None
    is_mapped: bool
    template_fields: list[str]
    doc_md: str | None
    upstream_task_ids: list[str]
    downstream_task_ids: list[str]

    @classmethod
    def of(cls, spec: TaskSpec, operator: BaseOperator) -> TaskResponse:
        """From the task's stored spec and its operator in the loaded DAG."""
        return cls(
            task_id=spec.task_id,
            operator_name=type(operator).__name__,
            owner=spec.owner,
            trigger_rule=spec.trigger_rule.value,
            depends_on_past=spec.depends_on_past,
            wait_for_downstream=spec.wait_for_downstream,
            retries=spec.retries,
            retry_delay=_time_delta(spec.retry_delay),
            retry_exponential_backoff=spec.retry_exponential_backoff,
            execution_timeout=_time_delta(spec.execution_timeout),
            queue=spec.queue,
            pool=spec.pool,
            pool_slots=spec.pool_slots,
            priority_weight=spec.priority_weight,
            weight_rule=spec.weight_rule.value,
            priority_weight_total=spec.priority_weight_total,
            max_active_tis_per_dag=spec.max_active_tis_per_dag,
            is_mapped=spec.map_spec is not None,
            template_fields=list(operator.template_fields),
            doc_md=getattr(operator, "doc_md", None),
            upstream_task_ids=sorted(spec.upstream),
            downstream_task_ids=sorted(spec.downstream),
        )


class TaskCollectionResponse(BaseModel):
    """GET /api/v2/dags/{dag_id}/tasks: every task, by task id."""

    tasks: list[TaskResponse]
    total_entries: int


class ImportErrorResponse(BaseModel):
    """A DAG file that failed to import."""

    import_error_id: int
    filename: str
    line: int | None
    stack_trace: str
    timestamp: dt.datetime

    @classmethod
    def of(cls, index: int, error: ImportErrorRecord) -> ImportErrorResponse:
        """From the metastore's record (ids are positions: the errors are replaced per parse)."""
        return cls(
            import_error_id=index,
            filename=error.fileloc,
            line=error.line,
            stack_trace=error.message,
            timestamp=error.created_at,
        )


class ImportErrorCollectionResponse(BaseModel):
    """GET /api/v2/importErrors."""

    import_errors: list[ImportErrorResponse]
    total_entries: int


class HealthInfo(BaseModel):
    """One component's status."""

    status: str
    detail: str | None = None
    latest_heartbeat: dt.datetime | None = None


class HealthResponse(BaseModel):
    """GET /api/v2/monitor/health."""

    status: str
    metadatabase: HealthInfo
    scheduler: HealthInfo
    executor: str
    #: Each Celery worker's last heartbeat and status (online, stopping, stopped or lost).
    celery_workers: list[dict[str, Any]] = []


class VersionInfo(BaseModel):
    """GET /api/v2/version."""

    version: str
    git_version: str | None = None


class TokenBody(_Strict):
    """POST /auth/token."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class TokenResponse(BaseModel):
    """A signed, expiring bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserResponse(BaseModel):
    """A user (never their password hash)."""

    username: str
    role: str
    created_at: dt.datetime

    @classmethod
    def of(cls, user: User) -> UserResponse:
        """From the service's user."""
        return cls(username=user.username, role=user.role.value, created_at=user.created_at)


class UserCollectionResponse(BaseModel):
    """GET /api/v2/users."""

    users: list[UserResponse]
    total_entries: int


class UserBody(_Strict):
    """POST /api/v2/users."""

    username: str
    role: Literal["admin", "op", "viewer"]
    password: str = Field(min_length=8, max_length=1024)


class GridResponse(BaseModel):
    """The grid's data: runs (oldest first) by tasks, states as compact strings."""

    dag_id: str
    task_ids: list[str]
    runs: list[DAGRunResponse]
    #: letter -> state name, for reading `cells`.
    codes: dict[str, str]
    #: task_id -> one letter per run (see `codes`); "-" where the run lacks the task.
    cells: dict[str, str]
    #: task_id -> try number per run where above 1 (else 0); only tasks retried somewhere.
    tries: dict[str, list[int]]
    #: task_id -> task group id, for tasks inside a group.
    groups: dict[str, str]
    #: mapped task_id -> per run its instances' count per state (null where none); its
    #: letter in `cells` is the overall state.
    mapped: dict[str, list[dict[str, int] | None]]

    model_config = ConfigDict(json_schema_extra={"description": "Served as plain JSON."})
