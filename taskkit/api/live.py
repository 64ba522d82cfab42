"""Server-sent event streams that keep the UI's pages live without reloading them.

Each stream reads its data every `live_interval` seconds (in a worker
thread) and sends it only when it changed, so an idle page costs one small
query a second and no traffic.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from taskkit.api import auth
from taskkit.api.routes_runs import grid_data
from taskkit.api.schemas import DAGRunResponse, PoolResponse, TaskInstanceResponse
from taskkit.api.state import ApiState, api_state
from taskkit.services import logs, task_instances
from taskkit.services import pools as pool_service

router = APIRouter(prefix="/ui/events", tags=["UI"], include_in_schema=False)
_KEEPALIVE_EVERY = 15


def _stream(request: Request, api: ApiState, read: Callable[[], Any]) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        last = None
        quiet = 0
        while not await request.is_disconnected():
            try:
                text = json.dumps(await run_in_threadpool(read), default=str)
            except Exception as exc:  # a deleted run or DAG ends the stream with its reason
                yield f"event: failure\ndata: {json.dumps(str(exc))}\n\n"
                return
            if text != last:
                last, quiet = text, 0
                yield f"data: {text}\n\n"
            else:
                quiet += 1
                if quiet * api.live_interval >= _KEEPALIVE_EVERY:
                    quiet = 0
                    yield ": keep-alive\n\n"
            await asyncio.sleep(api.live_interval)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/grid/{dag_id}", dependencies=[auth.viewer])
def grid_events(
    request: Request,
    dag_id: str,
    runs: int = Query(25, ge=1, le=100),
    api: ApiState = Depends(api_state),
) -> StreamingResponse:
    """The DAG page's grid and graph data, whenever it changes."""
    api.store.get_dag(dag_id)
    return _stream(request, api, lambda: grid_data(api, dag_id, runs))


@router.get("/run/{dag_id}/{run_id}", dependencies=[auth.viewer])
def run_events(
    request: Request, dag_id: str, run_id: str, api: ApiState = Depends(api_state)
) -> StreamingResponse:
    """The run page's run and task instances, whenever they change."""
    api.store.get_run(dag_id, run_id)

    def read() -> dict[str, Any]:
        run = api.store.get_run(dag_id, run_id)
        found = task_instances.list_task_instances(api.store, dag_id, run_id)
        shown = []
        for ti in found:
            entry = TaskInstanceResponse.of(ti).model_dump(mode="json")
            if ti.try_number > 1:  # earlier tries, for the Gantt
                spans = logs.try_spans(
                    api.logs_folder, dag_id, run_id, ti.task_id, map_index=ti.map_index
                )
                entry["tries"] = [attrs.asdict(s) for s in spans if s.try_number < ti.try_number]
            shown.append(entry)
        return {"run": DAGRunResponse.of(run).model_dump(mode="json"), "task_instances": shown}

    return _stream(request, api, read)


@router.get("/pools", dependencies=[auth.viewer])
def pool_events(request: Request, api: ApiState = Depends(api_state)) -> StreamingResponse:
    """Every pool with its bar, holders and waiters, whenever they change."""

    def read() -> list[dict[str, Any]]:
        shown = []
        for view in pool_service.list_pools(api.store):
            detail = pool_service.pool_detail(api.store, view.name)
            shown.append(
                {
                    **PoolResponse.of(view).model_dump(mode="json"),
                    "bar": view.bar(),
                    "holders": [_brief(t) for t in detail.holders],
                    "waiters": [_brief(t) for t in detail.waiters],
                }
            )
        return shown

    return _stream(request, api, read)


def _brief(ti: Any) -> dict[str, Any]:
    return {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "state": ti.state.value,
        "pool_slots": ti.pool_slots,
        "priority_weight": ti.priority_weight,
        "wait_reason": ti.wait_reason,
    }
