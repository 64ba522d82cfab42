"""What a try sees of assets: `outlet_events` to set its events' extra, and `inlets`.

A try never writes an event itself (the scheduler is the one writer): it
reports one AssetEventSpec per outlet in its TryResult when it succeeds.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any

import attrs

from taskkit.authoring.secrets import current_source
from taskkit.errors import AssetDefinitionError, AssetRefNotFoundError
from taskkit.model.assets import (
    Asset,
    AssetAlias,
    AssetEvent,
    AssetEventDagRun,
    AssetEventSpec,
    AssetNameRef,
    AssetRef,
    Metadata,
    asset_condition,
)


class RunLookup:
    """Finds the run an event came from (`event.source_dag_run`), each run once per context."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], AssetEventDagRun | None] = {}

    def __call__(self, dag_id: str, run_id: str) -> AssetEventDagRun | None:
        if (dag_id, run_id) not in self._found:
            source = current_source()
            found = source.dag_run(dag_id, run_id) if source is not None else None
            self._found[dag_id, run_id] = found
        return self._found[dag_id, run_id]


#: Turns an Asset.ref(...) into the asset it names (AssetRefNotFoundError if none).
Resolver = Callable[[AssetRef], Asset]


def resolver_for(dag: Any) -> Resolver:
    """Resolves refs as resolve_refs does, for `outlet_events[ref]` and `inlet_events[ref]`."""
    return lambda ref: _declared(ref, dag) or _known(ref)


def resolve_refs(items: Iterable[Asset | AssetAlias | AssetRef], dag: Any) -> list[Any]:
    """Inlets or outlets with each Asset.ref(...) replaced by the asset it names.

    The assets the task's own DAG declares come first, then the known ones
    (the metastore's, through the source in force); none is an
    AssetRefNotFoundError (Airflow also refuses a task whose refs name no asset).
    """
    return [
        (_declared(item, dag) or _known(item)) if isinstance(item, AssetRef) else item
        for item in items
    ]


def _declared(ref: AssetRef, dag: Any) -> Asset | None:
    tasks = getattr(dag, "task_dict", {}).values()
    condition = asset_condition(getattr(dag, "schedule", None))
    declared = [a for t in tasks for a in (*t.outlets, *t.inlets) if isinstance(a, Asset)]
    declared += list(condition.iter_assets()) if condition is not None else []
    for asset in declared:
        if (asset.name if isinstance(ref, AssetNameRef) else asset.uri) == _ref_value(ref):
            return asset
    return None


def _known(ref: AssetRef) -> Asset:
    source = current_source()
    value = _ref_value(ref)
    by_name = isinstance(ref, AssetNameRef)
    found = None
    if source is not None:
        found = source.find_asset(name=value) if by_name else source.find_asset(uri=value)
    if found is None:
        raise AssetRefNotFoundError("name" if by_name else "uri", value)
    return found


def _ref_value(ref: AssetRef) -> str:
    return str(ref.name if isinstance(ref, AssetNameRef) else getattr(ref, "uri", ""))


@attrs.define
class OutletEventAccessor:
    """One outlet's pending event: `extra` to fill in, and for an alias the assets added."""

    key: Asset | AssetAlias
    extra: dict[str, Any] = attrs.Factory(dict)
    #: AssetAlias only: the (asset, extra) pairs added with `.add(asset, extra=...)`.
    added: list[tuple[Asset, dict[str, Any]]] = attrs.Factory(list)
    resolve: Resolver | None = attrs.field(default=None, repr=False, eq=False)

    def add(self, asset: Asset | AssetRef, extra: dict[str, Any] | None = None) -> None:
        """Attach an event for `asset` (or the asset a ref names) to this alias outlet."""
        if not isinstance(self.key, AssetAlias):
            raise AssetDefinitionError(
                f"outlet_events[{self.key.uri!r}].add(): only an AssetAlias outlet takes add()."
            )
        if isinstance(asset, AssetRef) and self.resolve is not None:
            asset = self.resolve(asset)
        if not isinstance(asset, Asset):
            raise AssetDefinitionError(f"outlet_events alias add() needs an Asset, got {asset!r}.")
        self.added.append((asset, dict(extra or {})))


class _ByNameOrUri:
    """Airflow's shorthands for `accessors[Asset.ref(...)]` and `accessors[AssetAlias(...)]`."""

    def __getitem__(self, key: Any) -> Any:
        raise NotImplementedError

    def for_asset(self, *, name: str | None = None, uri: str | None = None) -> Any:
        """The entry of the asset with this name, URI, or both (`{{ inlet_events.for_asset(
        uri='s3://out/1.txt')[-1].extra }}`)."""
        if name is not None and uri is not None:
            return self[Asset(name=name, uri=uri)]
        if name is None and uri is None:
            raise AssetDefinitionError("for_asset() takes name=, uri= or both.")
        return self[Asset.ref(name=name) if name is not None else Asset.ref(uri=uri)]

    def for_asset_alias(self, *, name: str) -> Any:
        return self[AssetAlias(name)]


class OutletEventAccessors(_ByNameOrUri):
    """`context["outlet_events"]`: `outlet_events[asset].extra["rows"] = 10`."""

    def __init__(
        self, outlets: Iterable[Asset | AssetAlias], resolve: Resolver | None = None
    ) -> None:
        self._outlets = list(outlets)
        self._events: dict[Asset | AssetAlias, OutletEventAccessor] = {}
        self._resolve = resolve

    def __getitem__(self, key: Asset | AssetAlias | AssetRef) -> OutletEventAccessor:
        if isinstance(key, AssetRef) and self._resolve is not None:
            key = self._resolve(key)  # Airflow keys outlet_events by refs too
        if not isinstance(key, Asset | AssetAlias):
            raise KeyError(f"outlet_events is keyed by Asset, AssetAlias or a ref, got {key!r}")
        if key not in self._events:
            self._events[key] = OutletEventAccessor(key, resolve=self._resolve)
        return self._events[key]

    def events(self) -> tuple[AssetEventSpec, ...]:
        """The events a success of the try records: one per Asset outlet, plus alias additions."""
        found: list[AssetEventSpec] = []
        for outlet in self._outlets:
            accessor = self._events.get(outlet)
            if isinstance(outlet, Asset):
                found.append(AssetEventSpec(outlet.uri, dict(accessor.extra) if accessor else {}))
            elif accessor is not None:
                found.extend(
                    AssetEventSpec(asset.uri, extra, alias=outlet.name)
                    for asset, extra in accessor.added
                )
        return tuple(found)


class InletEventAccessors(_ByNameOrUri):
    """`context["inlet_events"]`: `inlet_events[asset]` lists its recorded events, oldest first.

    Read from the metastore when first asked for (the try reads, never
    writes); under DAG.test() there is none, so the lists are empty.
    """

    def __init__(
        self, inlets: Iterable[Asset | AssetAlias], resolve: Resolver | None = None
    ) -> None:
        self._inlets = {a.uri: a for a in inlets if isinstance(a, Asset)}
        self._read: dict[str, list[AssetEvent]] = {}
        self._runs = RunLookup()
        self._resolve = resolve

    def __getitem__(self, key: Asset | AssetAlias | AssetRef) -> list[AssetEvent]:
        if isinstance(key, AssetRef):
            key = self._own(key) or (self._resolve(key) if self._resolve is not None else key)
        if isinstance(key, AssetAlias):
            raise KeyError(
                f"inlet_events[{key!r}]: reading events through an asset alias is not "
                "supported yet; list the assets it resolves to in the task's inlets and read those."
            )
        if not isinstance(key, Asset) or key.uri not in self._inlets:
            raise KeyError(f"inlet_events[{key!r}]: only the task's inlets can be read")
        if key.uri not in self._read:
            source = current_source()
            found = source.asset_events(key.uri) if source is not None else []
            self._read[key.uri] = [attrs.evolve(e, lookup=self._runs) for e in found]
        return self._read[key.uri]

    def _own(self, ref: AssetRef) -> Asset | None:
        """The inlet a reference names, found without the metastore (DAG.test() has none)."""
        for inlet in self._inlets.values():
            if ref == Asset.ref(name=inlet.name) or ref == Asset.ref(uri=inlet.uri):
                return inlet
        return None


class TriggeringAssetEvents(Mapping[Asset, list[AssetEvent]]):
    """`context["triggering_asset_events"]`: the events that led to an asset-triggered run.

    Keyed by Asset as in Airflow (an asset's URI works too); empty for other runs.
    Built from the run's conf, where the run creator stored them as JSON.
    """

    def __init__(self, events: Mapping[str, list[AssetEvent]]) -> None:
        self._events = dict(events)

    @classmethod
    def from_conf(cls, stored: object) -> TriggeringAssetEvents:
        """From the conf's `triggering_asset_events`: {uri: [event as JSON, ...]}."""
        # `is None` first: most runs have none, and a first isinstance(None, Mapping) in a
        # forked try walks every registered Mapping (~40 pages copied from its zygote).
        if stored is None or not isinstance(stored, Mapping):
            return cls({})
        runs = RunLookup()
        return cls({uri: [_event(uri, e, runs) for e in events] for uri, events in stored.items()})

    def __getitem__(self, key: Asset | str) -> list[AssetEvent]:
        return self._events[key.uri if isinstance(key, Asset) else key]

    def __iter__(self) -> Iterator[Asset]:
        return (Asset(uri) for uri in self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __contains__(self, key: object) -> bool:
        uri = key.uri if isinstance(key, Asset) else key
        return uri in self._events


def _event(uri: str, stored: Mapping[str, Any], runs: RunLookup) -> AssetEvent:
    stamp = stored.get("timestamp")
    return AssetEvent(
        uri=uri,
        extra=dict(stored.get("extra") or {}),
        timestamp=dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else None,
        source_dag_id=stored.get("source_dag_id"),
        source_run_id=stored.get("source_run_id"),
        source_task_id=stored.get("source_task_id"),
        source_map_index=stored.get("source_map_index", -1),
        lookup=runs,
    )


def drain_metadata(value: Any, outlet_events: OutletEventAccessors) -> Any:
    """Run a generator a task function returned, applying each Metadata it yields.

    Airflow's `yield Metadata(asset, extra)`: the generator's own return
    value becomes the task's value. Anything else is returned unchanged.
    """
    if not inspect.isgenerator(value):
        return value
    generator: Generator[Any, None, Any] = value  # type: ignore[assignment]
    while True:
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        if isinstance(item, Metadata):
            outlet_events[item.asset].extra.update(item.extra)
            if item.alias is not None:
                outlet_events[item.alias].add(item.asset, dict(item.extra))
        else:
            print(f"Ignoring a value of type {type(item).__name__} the task yielded")
