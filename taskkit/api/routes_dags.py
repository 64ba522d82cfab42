"""/api/v2/dags, /api/v2/dagStats and /api/v2/importErrors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from taskkit.api import auth
from taskkit.api.schemas import (
    DAGCollectionResponse,
    DAGPatchBody,
    DAGResponse,
    DagStatsCollectionResponse,
    ImportErrorCollectionResponse,
    ImportErrorResponse,
    TaskCollectionResponse,
    TaskResponse,
)
from taskkit.api.state import ApiState, api_state
from taskkit.errors import TaskNotFoundError
from taskkit.services import dags as service

router = APIRouter(prefix="/api/v2", tags=["DAG"])


@router.get("/dags", dependencies=[auth.viewer])
def list_dags(
    limit: int = Query(100, ge=1, le=service.MAX_PAGE),
    offset: int = Query(0, ge=0),
    dag_id_pattern: str | None = Query(None, description="A substring of the DAG id."),
    tags: list[str] = Query([], description="Only DAGs with every one of these tags."),
    paused: bool | None = None,
    order_by: str | None = Query(
        None, description="A field to sort by, e.g. `-next_dagrun` (descending); dag_id first."
    ),
    state: ApiState = Depends(api_state),
) -> DAGCollectionResponse:
    """Active DAGs by id (or `order_by`), filtered and paged on the server."""
    found = service.list_dags(
        state.store,
        service.DagFilter(dag_id_pattern, tuple(tags), paused),
        service.Page(limit, offset),
        recent=1,
        order=service.DagOrder.parse(order_by),
    )
    return DAGCollectionResponse(
        dags=[DAGResponse.of_summary(s) for s in found.dags], total_entries=found.total_entries
    )


@router.get("/dagStats", dependencies=[auth.viewer], tags=["DagStats"])
def dag_stats(
    dag_ids: list[str] | None = Query(None, description="Only these DAGs (repeat the key)."),
    state: ApiState = Depends(api_state),
) -> DagStatsCollectionResponse:
    """Each DAG's number of runs in each run state (DAGs without runs are left out)."""
    return DagStatsCollectionResponse.of(state.store.run_state_counts(dag_ids))


@router.get("/dags/{dag_id}", dependencies=[auth.viewer])
def get_dag(dag_id: str, state: ApiState = Depends(api_state)) -> DAGResponse:
    """One DAG."""
    return DAGResponse.of(state.store.get_dag(dag_id))


@router.patch("/dags/{dag_id}", dependencies=[auth.op])
def patch_dag(dag_id: str, body: DAGPatchBody, state: ApiState = Depends(api_state)) -> DAGResponse:
    """Pause or unpause a DAG."""
    return DAGResponse.of(service.set_paused(state.store, dag_id, body.is_paused))


@router.get("/dags/{dag_id}/tasks", dependencies=[auth.viewer], tags=["Task"])
def list_tasks(dag_id: str, state: ApiState = Depends(api_state)) -> TaskCollectionResponse:
    """The tasks of the DAG's current version, by task id."""
    dag = state.versions.current(dag_id)
    tasks = [TaskResponse.of(dag.spec.tasks[t], dag.task_dict[t]) for t in sorted(dag.spec.tasks)]
    return TaskCollectionResponse(tasks=tasks, total_entries=len(tasks))


@router.get("/dags/{dag_id}/tasks/{task_id}", dependencies=[auth.viewer], tags=["Task"])
def get_task(dag_id: str, task_id: str, state: ApiState = Depends(api_state)) -> TaskResponse:
    """One task of the DAG's current version."""
    dag = state.versions.current(dag_id)
    if task_id not in dag.spec.tasks:
        raise TaskNotFoundError(
            f"DAG {dag_id!r} has no task {task_id!r}; GET /api/v2/dags/{dag_id}/tasks lists them."
        )
    return TaskResponse.of(dag.spec.tasks[task_id], dag.task_dict[task_id])


@router.get("/importErrors", dependencies=[auth.viewer], tags=["ImportError"])
def list_import_errors(
    limit: int = Query(100, ge=1, le=service.MAX_PAGE),
    offset: int = Query(0, ge=0),
    state: ApiState = Depends(api_state),
) -> ImportErrorCollectionResponse:
    """DAG files that failed to import at their last parse, with file and line."""
    errors = list(service.import_errors(state.store))
    page = errors[offset : offset + limit]
    return ImportErrorCollectionResponse(
        import_errors=[ImportErrorResponse.of(offset + i + 1, e) for i, e in enumerate(page)],
        total_entries=len(errors),
    )
