"""/api/v2/dags/{dag_id}/dagRuns, clearing and marking, and the grid's data."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from taskkit.api import auth
from taskkit.api.schemas import (
    ChangedTaskInstances,
    ClearTaskInstancesBody,
    DAGRunCollectionResponse,
    DAGRunPatchBody,
    DAGRunResponse,
    GridResponse,
    TriggerDAGRunPostBody,
)
from taskkit.api.state import ApiState, api_state
from taskkit.api.strict_query import enum_values
from taskkit.errors import InvalidInputError
from taskkit.services import runs as service
from taskkit.services import task_instances as tis
from taskkit.services.dags import MAX_PAGE, Page
from taskkit.states import RunState

router = APIRouter(prefix="/api/v2", tags=["DagRun"])
#: JSON the UI's pages read (Airflow 3 keeps these under /ui too).
ui_router = APIRouter(prefix="/ui", tags=["UI"])


@router.get("/dags/{dag_id}/dagRuns", dependencies=[auth.viewer])
def list_runs(
    dag_id: str,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0),
    state: list[str] = Query([]),
    order_by: str | None = Query(
        None, description="A field to sort by, e.g. `-start_date` (descending); newest first."
    ),
    api: ApiState = Depends(api_state),
) -> DAGRunCollectionResponse:
    """The DAG's runs, newest first unless `order_by`; every DAG's for dag_id `~`, as in Airflow."""
    runs, total = service.list_runs(
        api.store,
        dag_id,
        Page(limit, offset),
        enum_values(RunState, state, "run state"),
        service.run_order(order_by),
    )
    return DAGRunCollectionResponse(
        dag_runs=[DAGRunResponse.of(r) for r in runs], total_entries=total
    )


@router.post("/dags/{dag_id}/dagRuns", dependencies=[auth.op], status_code=200)
def trigger_run(
    dag_id: str, body: TriggerDAGRunPostBody, api: ApiState = Depends(api_state)
) -> DAGRunResponse:
    """Trigger a run: 404 unknown DAG, 409 duplicate run id, 400 conf failing the params."""
    logical_date = body.logical_date
    if logical_date is not None and logical_date.tzinfo is None:
        raise InvalidInputError(
            f"logical_date {logical_date.isoformat()} has no time zone; add one, e.g. 'Z'."
        )
    run = service.trigger(
        api.store,
        api.config,
        dag_id,
        run_id=body.dag_run_id,
        logical_date=logical_date,
        conf=body.conf,
        now=api.clock(),
    )
    return DAGRunResponse.of(run)


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}", dependencies=[auth.viewer])
def get_run(dag_id: str, dag_run_id: str, api: ApiState = Depends(api_state)) -> DAGRunResponse:
    """One run with its state and conf."""
    api.store.get_dag(dag_id)
    return DAGRunResponse.of(api.store.get_run(dag_id, dag_run_id))


@router.patch("/dags/{dag_id}/dagRuns/{dag_run_id}", dependencies=[auth.op])
def mark_run(
    dag_id: str, dag_run_id: str, body: DAGRunPatchBody, api: ApiState = Depends(api_state)
) -> ChangedTaskInstances:
    """Mark every task instance of the run success or failed (running ones are left to finish)."""
    run = api.store.get_run(dag_id, dag_run_id)
    spec = api.versions.get(run.dag_version_id).spec
    changed = tis.mark(api.store, dag_id, dag_run_id, list(spec.tasks), tis.MarkState(body.state))
    return ChangedTaskInstances(task_instances=changed, total_entries=len(changed))


@router.post("/dags/{dag_id}/clearTaskInstances", dependencies=[auth.op], tags=["TaskInstance"])
def clear_task_instances(
    dag_id: str, body: ClearTaskInstancesBody, api: ApiState = Depends(api_state)
) -> ChangedTaskInstances:
    """Rerun task instances of a run (all, or `task_ids`, plus downstream if asked)."""
    api.store.get_dag(dag_id)
    run = api.store.get_run(dag_id, body.dag_run_id)
    spec = api.versions.get(run.dag_version_id).spec
    chosen = tis.choose_tasks(
        spec, task_ids=body.task_ids or (), downstream=body.include_downstream
    )
    plan = tis.plan_clear(api.store, api.versions, dag_id, body.dag_run_id, chosen)
    if body.dry_run:
        planned = sum(len(step.task_ids) for step in plan)
        return ChangedTaskInstances(task_instances=chosen, total_entries=planned)
    count = tis.clear_planned(api.store, plan)
    return ChangedTaskInstances(task_instances=chosen, total_entries=count)


@ui_router.get("/grid/{dag_id}", dependencies=[auth.viewer], response_model=GridResponse)
def grid(
    dag_id: str,
    runs: int = Query(25, ge=1, le=100),
    api: ApiState = Depends(api_state),
) -> Response:
    """The grid's data: the newest runs by the DAG's tasks."""
    return Response(json.dumps(grid_data(api, dag_id, runs)), media_type="application/json")


def grid_data(api: ApiState, dag_id: str, runs: int) -> dict[str, Any]:
    """The grid as JSON-ready data (also sent on the DAG page's live stream).

    Built without a pydantic model per cell: 25,000 cells are plain lists.
    """
    data = service.grid(api.store, api.versions, dag_id, runs=runs)
    return {
        "dag_id": dag_id,
        "task_ids": list(data.task_ids),
        "runs": [DAGRunResponse.of(r).model_dump(mode="json") for r in data.runs],
        "codes": {letter: state for state, letter in service.STATE_CODES.items()},
        "cells": data.cells,
        "tries": data.tries,
        "groups": data.groups,
        "mapped": data.mapped,
    }
