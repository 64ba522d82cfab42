"""Assets in the metastore: declarations from parses, events, and each DAG's unconsumed queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from taskkit.errors import DuplicateRunError
from taskkit.metastore.records import AssetEventRecord, AssetEventWrite, AssetRecord, RunRecord
from taskkit.metastore.runs import new_ti
from taskkit.metastore.tables import (
    AssetAliasAssetRow,
    AssetDagQueueRow,
    AssetEventRow,
    AssetReferenceRow,
    AssetRow,
    DagRunRow,
    TaskInstanceRow,
    as_aware_utc,
)
from taskkit.metastore.units import UnitOfWork
from taskkit.model.assets import (
    TRIGGERING_ASSET_EVENTS,
    Asset,
    AssetAlias,
    AssetNameRef,
    AssetRef,
    AssetUriRef,
)
from taskkit.model.task import TaskSpec
from taskkit.states import RunState, RunType

#: asset_reference.use values ("alias": the DAG schedules on the AssetAlias named in `uri`;
#: "name_ref": on Asset.ref(name=...), the name in `uri`). Asset.ref(uri=...) is "schedule".
SCHEDULE, OUTLET, ALIAS, NAME_REF = "schedule", "outlet", "alias", "name_ref"


class AssetMethods(UnitOfWork):
    """Assets, their events, and the queue of events each consuming DAG has not used yet."""

    def save_asset_references(
        self,
        dag_id: str,
        scheduled_on: Sequence[Asset],
        produced: Sequence[Asset],
        aliases: Sequence[AssetAlias] = (),
        refs: Sequence[AssetRef] = (),
    ) -> None:
        """Record what a freshly parsed DAG schedules on (assets, aliases, references to
        assets) and produces. References declare no asset: they are resolved when used."""
        now = self._now()
        uses = {(a.uri, SCHEDULE) for a in scheduled_on} | {(a.uri, OUTLET) for a in produced}
        uses |= {(a.name, ALIAS) for a in aliases}
        uses |= {(r.uri, SCHEDULE) for r in refs if isinstance(r, AssetUriRef)}
        uses |= {(r.name, NAME_REF) for r in refs if isinstance(r, AssetNameRef)}
        with self._write() as session:
            session.execute(delete(AssetReferenceRow).where(AssetReferenceRow.dag_id == dag_id))
            for asset in {a.uri: a for a in (*scheduled_on, *produced)}.values():
                row = session.get(AssetRow, asset.uri)
                if row is None:
                    session.add(
                        AssetRow(
                            uri=asset.uri,
                            name=asset.name,
                            group=asset.group,
                            extra=dict(asset.extra),
                            updated_at=now,
                        )
                    )
                else:
                    row.name, row.group, row.extra = asset.name, asset.group, dict(asset.extra)
                    row.updated_at = now
            if uses:
                session.execute(
                    insert(AssetReferenceRow),
                    [{"dag_id": dag_id, "uri": uri, "use": use} for uri, use in sorted(uses)],
                )

    def asset_consumers(self, uris: Collection[str]) -> set[str]:
        """The DAGs whose schedule names any of these assets, or an alias resolved to one."""
        if not uris:
            return set()
        with self._read() as session:
            return set(session.execute(_consumers(list(uris))).scalars())

    def alias_assets(self, aliases: Collection[str]) -> dict[str, set[str]]:
        """The URIs each of these AssetAliases resolved to (events were added through it)."""
        found: dict[str, set[str]] = {}
        if aliases:
            with self._read() as session:
                rows = session.execute(
                    select(AssetAliasAssetRow.alias, AssetAliasAssetRow.uri).where(
                        AssetAliasAssetRow.alias.in_(list(aliases))
                    )
                )
                for alias, uri in rows:
                    found.setdefault(alias, set()).add(uri)
        return found

    def asset_uris_named(self, names: Collection[str]) -> dict[str, set[str]]:
        """The URIs of the known assets with each of these names (Asset.ref(name=...))."""
        found: dict[str, set[str]] = {}
        if names:
            with self._read() as session:
                rows = session.execute(
                    select(AssetRow.name, AssetRow.uri).where(AssetRow.name.in_(list(names)))
                )
                for name, uri in rows:
                    found.setdefault(name, set()).add(uri)
        return found

    def find_asset(self, *, name: str | None = None, uri: str | None = None) -> Asset | None:
        """The known asset with this URI, else the first (by URI) with this name; None if none."""
        query = select(AssetRow).order_by(AssetRow.uri).limit(1)
        query = query.where(AssetRow.uri == uri) if uri is not None else query
        query = query.where(AssetRow.name == name) if name is not None else query
        with self._read() as session:
            row = session.execute(query).scalars().first()
            if row is None:
                return None
            return Asset(row.uri, name=row.name, group=row.group, extra=dict(row.extra))

    def queued_asset_dags(self) -> set[str]:
        """DAGs with asset events they have not consumed: what a restarted scheduler looks at."""
        with self._read() as session:
            return set(session.execute(select(AssetDagQueueRow.target_dag_id).distinct()).scalars())

    def asset_queue(self, dag_id: str) -> set[str]:
        """The assets with events the DAG has not consumed yet."""
        with self._read() as session:
            return set(
                session.execute(
                    select(AssetDagQueueRow.uri).where(AssetDagQueueRow.target_dag_id == dag_id)
                ).scalars()
            )

    def create_asset_triggered_run(
        self,
        dag_id: str,
        run_id: str,
        now: dt.datetime,
        *,
        dag_version_id: int,
        tasks: Sequence[TaskSpec],
    ) -> RunRecord:
        """Create an asset-triggered run consuming the DAG's whole queue, atomically.

        The run's conf holds `triggering_asset_events` (by URI, each event as
        JSON); its queue rows are deleted in the same transaction, so an
        event triggers one run, and a crash loses none.
        """
        try:
            with self._write() as session:
                # Locked: of two schedulers consuming one queue, the second finds it empty.
                queue = session.execute(
                    select(AssetDagQueueRow.uri, AssetDagQueueRow.first_event_id)
                    .where(AssetDagQueueRow.target_dag_id == dag_id)
                    .with_for_update()
                ).all()
                if not queue:
                    raise DuplicateRunError(
                        f"DAG {dag_id!r} has no unconsumed asset events: another scheduler "
                        "consumed them."
                    )
                triggering: dict[str, list[dict[str, Any]]] = {}
                for uri, first in queue:
                    rows = session.execute(
                        select(AssetEventRow)
                        .where(AssetEventRow.uri == uri, AssetEventRow.id >= first)
                        .order_by(AssetEventRow.id)
                    ).scalars()
                    triggering[uri] = [_event(row).as_json() for row in rows]
                run_pk = session.execute(
                    insert(DagRunRow)
                    .values(
                        dag_id=dag_id,
                        run_id=run_id,
                        logical_date=now,
                        run_type=RunType.ASSET_TRIGGERED,
                        state=RunState.QUEUED,
                        conf={TRIGGERING_ASSET_EVENTS: triggering},
                        dag_version_id=dag_version_id,
                        created_at=now,
                        data_interval_start=now,
                        data_interval_end=now,
                    )
                    .returning(DagRunRow.id)
                ).scalar_one()
                if tasks:
                    session.execute(
                        insert(TaskInstanceRow),
                        [new_ti(dag_id, run_id, run_pk, spec, now) for spec in tasks],
                    )
                session.execute(
                    delete(AssetDagQueueRow).where(AssetDagQueueRow.target_dag_id == dag_id)
                )
        except IntegrityError as exc:
            raise DuplicateRunError(f"DAG {dag_id!r} already has run {run_id!r}.") from exc
        return self.get_run(dag_id, run_id)  # type: ignore[attr-defined,no-any-return]

    def list_assets(self) -> list[AssetRecord]:
        """Every asset a DAG names, with its producers, consumers and latest event, by URI."""
        with self._read() as session:
            assets = session.execute(select(AssetRow).order_by(AssetRow.uri)).scalars().all()
            uses: dict[tuple[str, str], list[str]] = {}
            for ref in session.execute(select(AssetReferenceRow).order_by("dag_id")).scalars():
                uses.setdefault((ref.uri, ref.use), []).append(ref.dag_id)
            stats = {
                uri: (count, last)
                for uri, count, last in session.execute(
                    select(
                        AssetEventRow.uri,
                        func.count().label("count"),
                        func.max(AssetEventRow.timestamp).label("last"),
                    ).group_by(AssetEventRow.uri)
                )
            }
        records = []
        for row in assets:
            count, last = stats.get(row.uri, (0, None))
            records.append(
                AssetRecord(
                    uri=row.uri,
                    name=row.name,
                    group=row.group,
                    extra=row.extra,
                    producing_dags=tuple(uses.get((row.uri, OUTLET), ())),
                    consuming_dags=tuple(uses.get((row.uri, SCHEDULE), ())),
                    last_event_at=None if last is None else as_aware_utc(last),
                    events=int(count),
                )
            )
        return records

    def list_asset_events(self, uri: str | None = None, limit: int = 100) -> list[AssetEventRecord]:
        """The latest `limit` asset events (of one asset when `uri` is given), newest first."""
        query = select(AssetEventRow).order_by(AssetEventRow.id.desc()).limit(limit)
        if uri is not None:
            query = query.where(AssetEventRow.uri == uri)
        with self._read() as session:
            return [_event(row) for row in session.execute(query).scalars()]


def write_asset_events(
    connection: Connection, events: Iterable[AssetEventWrite], now: dt.datetime
) -> None:
    """Store events (in the caller's transaction) and queue them for the DAGs scheduled on them."""
    for event in events:
        event_id = connection.execute(
            insert(AssetEventRow)
            .values(
                uri=event.uri,
                extra=dict(event.extra),
                source_dag_id=event.ti.dag_id,
                source_run_id=event.ti.run_id,
                source_task_id=event.ti.task_id,
                source_map_index=event.ti.map_index,
                timestamp=now,
            )
            .returning(AssetEventRow.id)
        ).scalar_one()
        if event.alias is not None:
            known = connection.execute(
                select(AssetAliasAssetRow.uri).where(
                    AssetAliasAssetRow.alias == event.alias, AssetAliasAssetRow.uri == event.uri
                )
            ).first()
            if known is None:  # the alias resolves to this asset from now on, as in Airflow
                connection.execute(
                    insert(AssetAliasAssetRow).values(alias=event.alias, uri=event.uri)
                )
        consumers = set(connection.execute(_consumers([event.uri])).scalars())
        queued = set(
            connection.execute(
                select(AssetDagQueueRow.target_dag_id).where(AssetDagQueueRow.uri == event.uri)
            ).scalars()
        )
        fresh = [d for d in consumers if d not in queued]
        if fresh:  # a DAG already queued keeps its first unconsumed event
            connection.execute(
                insert(AssetDagQueueRow),
                [
                    {
                        "target_dag_id": d,
                        "uri": event.uri,
                        "first_event_id": event_id,
                        "created_at": now,
                    }
                    for d in fresh
                ],
            )


def _consumers(uris: list[str]) -> Select[str]:
    """The DAGs scheduled on these assets, directly, through an alias resolved to one, or
    through a reference to one's name."""
    resolved = select(AssetAliasAssetRow.alias).where(AssetAliasAssetRow.uri.in_(uris))
    named = select(AssetRow.name).where(AssetRow.uri.in_(uris))
    return (
        select(AssetReferenceRow.dag_id)
        .where(
            ((AssetReferenceRow.use == SCHEDULE) & AssetReferenceRow.uri.in_(uris))
            | ((AssetReferenceRow.use == ALIAS) & AssetReferenceRow.uri.in_(resolved))
            | ((AssetReferenceRow.use == NAME_REF) & AssetReferenceRow.uri.in_(named))
        )
        .distinct()
    )


def _event(row: AssetEventRow) -> AssetEventRecord:
    return AssetEventRecord(
        id=row.id,
        uri=row.uri,
        extra=row.extra,
        source_dag_id=row.source_dag_id,
        source_run_id=row.source_run_id,
        source_task_id=row.source_task_id,
        source_map_index=row.source_map_index,
        timestamp=row.timestamp,
    )
