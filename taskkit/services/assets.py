"""Assets and their events as people see them: one path for the CLI and the REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskkit.errors import AssetNotFoundError, RunNotFoundError
from taskkit.model.assets import AssetEvent, AssetEventDagRun

if TYPE_CHECKING:
    from taskkit.metastore import Metastore

#: The most events one request returns.
MAX_EVENTS = 1000


def list_assets(store: Metastore) -> list[dict[str, Any]]:
    """Every asset a DAG names: its producers, consumers, event count and latest event."""
    return [
        {
            "uri": a.uri,
            "name": a.name,
            "group": a.group,
            "extra": dict(a.extra),
            "producing_dags": list(a.producing_dags),
            "consuming_dags": list(a.consuming_dags),
            "events": a.events,
            "last_event_at": a.last_event_at.isoformat() if a.last_event_at else None,
        }
        for a in store.list_assets()
    ]


def events_of(store: Metastore, uri: str) -> list[AssetEvent]:
    """The asset's latest MAX_EVENTS events, oldest first: what `inlet_events[asset]` holds."""
    return [
        AssetEvent(
            uri=e.uri,
            extra=dict(e.extra),
            timestamp=e.timestamp,
            source_dag_id=e.source_dag_id,
            source_run_id=e.source_run_id,
            source_task_id=e.source_task_id,
            source_map_index=e.source_map_index,
        )
        for e in reversed(store.list_asset_events(uri, MAX_EVENTS))
    ]


def source_dag_run(store: Metastore, dag_id: str, run_id: str) -> AssetEventDagRun | None:
    """The run an event came from, as `event.source_dag_run` shows it; None once deleted."""
    try:
        run = store.get_run(dag_id, run_id)
    except RunNotFoundError:
        return None
    return AssetEventDagRun(
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=run.logical_date,
        run_type=run.run_type.value,
        state=run.state.value,
        conf=dict(run.conf),
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        start_date=run.started_at,
        end_date=run.ended_at,
    )


def list_asset_events(
    store: Metastore, uri: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The latest `limit` (at most MAX_EVENTS) asset events, newest first; of one asset if `uri`."""
    if uri is not None and uri not in {a.uri for a in store.list_assets()}:
        raise AssetNotFoundError(uri)
    return [e.as_json() for e in store.list_asset_events(uri, limit)]
