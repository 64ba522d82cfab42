"""Asset-triggered runs: created the moment a DAG's asset condition holds.

Event-driven, not polled: the scheduler records a try's asset events with
its transition and hands the DAGs scheduled on those assets to `notify`;
the next refresh (at once) looks at those DAGs only. The queue of events a
DAG has not consumed lives in the metastore (asset_dag_queue), so a
restarted scheduler starts from `queued_asset_dags()` and loses nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import attrs
import structlog

from taskkit.errors import DagVersionUnloadableError, DuplicateRunError
from taskkit.model.assets import AssetNameRef, asset_condition

if TYPE_CHECKING:
    from taskkit.metastore.records import DagFlags
    from taskkit.metastore.store import Metastore
    from taskkit.model.dag import DagSpec

log = structlog.get_logger(__name__)


@attrs.define
class AssetRunCreator:
    """Which DAGs have unconsumed asset events, and which of them to look at next refresh."""

    store: Metastore
    #: DAGs with unconsumed events (their condition may not hold yet).
    pending: set[str] = attrs.Factory(set)
    #: DAGs to look at on the next refresh: new events, or read at start.
    fresh: set[str] = attrs.Factory(set)

    def start(self) -> None:
        """Pick up the events a previous scheduler recorded but no run consumed yet."""
        self.pending = self.store.queued_asset_dags()
        self.fresh = set(self.pending)

    def notify(self, uris: Iterable[str]) -> bool:
        """Asset events were just recorded: their consuming DAGs become candidates."""
        dags = self.store.asset_consumers(set(uris))
        self.pending |= dags
        self.fresh |= dags
        return bool(dags)

    def create_due_runs(
        self,
        dags: Mapping[str, DagFlags],
        changed: Iterable[str],
        *,
        spec_of: Callable[[int], DagSpec],
        now: dt.datetime,
    ) -> list[str]:
        """Create a run for each candidate DAG whose asset condition holds; return their ids.

        Candidates are the DAGs with new events and those whose flags changed
        (an unpaused DAG may have waited on a condition that holds). A paused
        DAG keeps its queue, as in Airflow.
        """
        candidates = self.fresh | (self.pending & set(changed))
        self.fresh = set()
        created = []
        for dag_id in sorted(candidates):
            dag = dags.get(dag_id)
            if dag is None or not dag.is_active or dag.is_paused or dag.current_version_id is None:
                continue  # an unpause makes it a candidate again
            try:
                spec = spec_of(dag.current_version_id)
            except DagVersionUnloadableError:
                continue  # the time-based run creator reports it
            condition = asset_condition(spec.schedule)
            queue = self.store.asset_queue(dag_id)
            if condition is None or not queue:
                self.pending.discard(dag_id)
                continue
            aliases = [alias.name for alias in condition.iter_aliases()]
            names = [r.name for r in condition.iter_refs() if isinstance(r, AssetNameRef)]
            resolved = self.store.alias_assets(aliases) if aliases else {}
            named = self.store.asset_uris_named(names) if names else {}
            if not condition.evaluate(queue, resolved, named):
                continue  # waits for more events
            run_id = f"asset_triggered__{now.isoformat()}"
            try:
                self.store.create_asset_triggered_run(
                    dag_id,
                    run_id,
                    now,
                    dag_version_id=dag.current_version_id,
                    tasks=list(spec.tasks.values()),
                )
            except DuplicateRunError:
                self.fresh.add(dag_id)  # same instant as another: try again next refresh
                continue
            self.pending.discard(dag_id)
            created.append(dag_id)
            log.info("run_created", dag_id=dag_id, run_id=run_id, assets=sorted(queue))
        return created
