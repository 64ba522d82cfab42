"""Task instances of a run: list, one, mark, logs per try, XComs."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from taskkit.api import auth
from taskkit.api.schemas import (
    ChangedTaskInstances,
    PatchTaskInstanceBody,
    TaskInstanceCollectionResponse,
    TaskInstanceResponse,
    TaskLogResponse,
    XComCollectionResponse,
    XComResponse,
)
from taskkit.api.state import ApiState, api_state
from taskkit.api.strict_query import enum_values
from taskkit.metastore import TaskInstanceRecord
from taskkit.services import logs
from taskkit.services import task_instances as service
from taskkit.services.dags import MAX_PAGE, Page
from taskkit.states import State

router = APIRouter(prefix="/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}", tags=["TaskInstance"])


@router.get("/taskInstances", dependencies=[auth.viewer])
def list_task_instances(
    dag_id: str,
    dag_run_id: str,
    limit: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0),
    state: list[str] = Query([], description="Only these states (repeat the key)."),
    pool: list[str] = Query([], description="Only these pools (repeat the key)."),
    api: ApiState = Depends(api_state),
) -> TaskInstanceCollectionResponse:
    """The run's task instances by task_id, with each one's wait reason; `~` for the DAG or
    the run lists every one's, as in Airflow (`/dags/~/dagRuns/~/taskInstances?state=queued`)."""
    found, total = service.page_task_instances(
        api.store,
        dag_id,
        dag_run_id,
        Page(limit, offset),
        states=enum_values(State, state, "task instance state"),
        pools=pool,
    )
    return TaskInstanceCollectionResponse(
        task_instances=[TaskInstanceResponse.of(t) for t in found], total_entries=total
    )


@router.get("/taskInstances/{task_id}", dependencies=[auth.viewer])
def get_task_instance(
    dag_id: str, dag_run_id: str, task_id: str, api: ApiState = Depends(api_state)
) -> TaskInstanceResponse:
    """One task instance (a mapped task's first), with its current try's rendered fields."""
    return _one(api, service.get_task_instance(api.store, dag_id, dag_run_id, task_id))


@router.get("/taskInstances/{task_id}/{map_index:int}", dependencies=[auth.viewer])
def get_mapped_task_instance(
    dag_id: str, dag_run_id: str, task_id: str, map_index: int, api: ApiState = Depends(api_state)
) -> TaskInstanceResponse:
    """One instance of a mapped task, with its current try's rendered fields."""
    return _one(api, service.get_task_instance(api.store, dag_id, dag_run_id, task_id, map_index))


def _one(api: ApiState, ti: TaskInstanceRecord) -> TaskInstanceResponse:
    """A single instance's response: also its rendered fields and why it is in its state."""
    dag = api.store.get_dag(ti.dag_id)
    run = api.store.get_run(ti.dag_id, ti.run_id)
    why = service.explain(
        api.store, lambda: api.versions.get(run.dag_version_id).spec, dag, run, ti
    )
    return TaskInstanceResponse.of(ti, service.rendered_fields(api.store, ti), why)


@router.patch("/taskInstances/{task_id}", dependencies=[auth.op])
def mark_task_instance(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: PatchTaskInstanceBody,
    api: ApiState = Depends(api_state),
) -> ChangedTaskInstances:
    """Mark the task instance (and its downstream, if asked) success or failed."""
    run = api.store.get_run(dag_id, dag_run_id)
    service.get_task_instance(api.store, dag_id, dag_run_id, task_id)
    spec = api.versions.get(run.dag_version_id).spec
    chosen = service.choose_tasks(spec, task_ids=[task_id], downstream=body.include_downstream)
    changed = service.mark(api.store, dag_id, dag_run_id, chosen, service.MarkState(body.new_state))
    return ChangedTaskInstances(task_instances=changed, total_entries=len(changed))


@router.get(
    "/taskInstances/{task_id}/logs/{try_number}",
    dependencies=[auth.viewer],
    response_model=TaskLogResponse,
)
def get_log(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    try_number: int,
    start: int | None = Query(None, ge=0, description="Byte offset to read from."),
    before: int | None = Query(None, ge=0, description="Read the lines that end here."),
    limit: int = Query(logs.MAX_CHUNK, ge=1, le=logs.MAX_CHUNK),
    full_content: bool = Query(False, description="Stream the whole log as text (download)."),
    map_index: int = Query(-1, ge=-1, description="The instance of a mapped task."),
    api: ApiState = Depends(api_state),
) -> Response:
    """A piece of one try's log (default: its tail), or the whole log as a download."""
    service.get_task_instance(api.store, dag_id, dag_run_id, task_id, map_index)
    path = logs.find_log(
        api.logs_folder, dag_id, dag_run_id, task_id, try_number, map_index=map_index
    )
    if full_content:
        instance = f"__{map_index}" if map_index >= 0 else ""
        name = f"{dag_id}__{dag_run_id}__{task_id}{instance}__{try_number}.log".replace("/", "_")
        return StreamingResponse(
            logs.stream_formatted(path),
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if before is not None:
        chunk = logs.read_chunk_before(path, before, limit=limit)
    else:
        chunk = logs.read_chunk(path, start=start, limit=limit)
    tries = logs.tries_with_logs(api.logs_folder, dag_id, dag_run_id, task_id, map_index=map_index)
    body = TaskLogResponse(
        content=chunk.text,
        start=chunk.start,
        end=chunk.end,
        size=chunk.size,
        try_number=try_number,
        tries=tries,
    )
    return JSONResponse(body.model_dump(mode="json"))


@router.get("/taskInstances/{task_id}/xcomEntries", dependencies=[auth.viewer])
def list_xcoms(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int = Query(-1, ge=-1, description="The instance of a mapped task."),
    api: ApiState = Depends(api_state),
) -> XComCollectionResponse:
    """The values the task instance pushed; pickled ones are described, never unpickled."""
    service.get_task_instance(api.store, dag_id, dag_run_id, task_id, map_index)
    entries = []
    for x in api.store.get_xcoms(dag_id, dag_run_id):
        if x.task_id != task_id or x.map_index != map_index:
            continue
        value = (
            json.loads(x.value)
            if x.encoding == "json"
            else f"<{x.encoding} value, {len(x.value)} bytes>"
        )
        entries.append(
            XComResponse(
                key=x.key,
                task_id=x.task_id,
                dag_id=x.dag_id,
                dag_run_id=x.run_id,
                map_index=x.map_index,
                timestamp=x.created_at,
                value=value,
                encoding=x.encoding,
            )
        )
    return XComCollectionResponse(xcom_entries=entries, total_entries=len(entries))
