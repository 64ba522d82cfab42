"""Assets (data-aware scheduling): what a task produces and what a DAG's schedule waits for.

An `Asset` is a URI naming some data. A task lists the assets it updates in
`outlets`; each success of it records one asset event. A DAG scheduled on
assets (`schedule=[a, b]`, `a & b`, `a | b`) gets a run once its condition
holds over the assets with an event it has not consumed yet, as in Airflow 3.
These are declarations and one pure evaluation; recording and consuming
events is the scheduler's job.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import attrs

from taskkit.errors import AssetDefinitionError

#: The key of an asset-triggered run's conf (and of the context) holding its events.
TRIGGERING_ASSET_EVENTS = "triggering_asset_events"
#: No alias resolved to any asset yet.
_NO_ALIASES: Mapping[str, AbstractSet[str]] = {}
#: Longest URI or name Airflow accepts.
MAX_IDENTIFIER = 1500


def _check_identifier(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value or value.isspace():
        raise AssetDefinitionError(
            f"Asset {kind} {value!r} is not valid: give a non-empty string such as "
            "'s3://bucket/key' or 'file:///data/out.csv'."
        )
    if len(value) > MAX_IDENTIFIER:
        raise AssetDefinitionError(
            f"Asset {kind} {value[:40]!r}... is {len(value)} characters long; "
            f"at most {MAX_IDENTIFIER} are allowed."
        )
    return value


def normalize_uri(uri: object) -> str:
    """The URI as Airflow stores it (lower-case scheme, no fragment, sorted query), or an error.

    Like Airflow, a string without a scheme is taken as it is (a plain name);
    one with a scheme must parse as a URI and not use the reserved 'airflow' or 'taskkit'.
    """
    text = _check_identifier("URI", uri)
    if any(c.isspace() for c in text):
        raise AssetDefinitionError(
            f"Asset URI {text!r} contains whitespace; percent-encode it (%20) or remove it."
        )
    try:
        parsed = urllib.parse.urlsplit(text)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise AssetDefinitionError(
            f"Asset URI {text!r} is not a valid URI ({exc}); "
            "write it as scheme://host/path, e.g. 's3://bucket/key'."
        ) from None
    scheme = parsed.scheme.lower()
    if not scheme and not parsed.netloc:
        return text
    if scheme in {"airflow", "taskkit"}:
        raise AssetDefinitionError(
            f"Asset URI {text!r}: the scheme {scheme!r} is reserved; use another scheme."
        )
    if scheme.startswith("x-"):
        return text
    netloc = parsed.netloc.rpartition("@")[2]  # user info (a password!) is never kept
    query = urllib.parse.urlencode(sorted(urllib.parse.parse_qsl(parsed.query)))
    path = parsed.path.rstrip("/") or "/"
    return urllib.parse.urlunsplit((scheme, netloc, path, query, ""))


def _json_extra(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AssetDefinitionError(f"Asset extra must be a dict, got {value!r}.")
    return dict(value)


class BaseAsset:
    """What `DAG(schedule=...)` accepts as a data condition; `&` and `|` combine them."""

    def __and__(self, other: object) -> AssetAll:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAll(self, other)

    def __or__(self, other: object) -> AssetAny:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAny(self, other)

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        """Whether the condition holds when the assets in `fresh` (by URI) have new events.

        `aliases` maps each AssetAlias name to the URIs of the assets it has
        resolved to (events were added through it); an alias holds when any has.
        `names` maps each name an `Asset.ref(name=...)` names to the URIs of the
        known assets with that name.
        """
        raise NotImplementedError

    def iter_assets(self) -> Iterator[Asset]:
        """Every asset the condition names, each once, in the order written."""
        raise NotImplementedError

    def iter_aliases(self) -> Iterator[AssetAlias]:
        """Every AssetAlias the condition names, each once."""
        return iter(())

    def iter_refs(self) -> Iterator[AssetRef]:
        """Every Asset.ref(...) the condition names, each once."""
        return iter(())


@attrs.frozen(init=False)
class AssetWatcher:
    """Airflow's event-driven watch of an asset: a trigger whose events update the asset.

    Accepted so Airflow DAGs load; taskkit does not run watchers yet (a DAG
    using an asset with watchers gets a one-line warning), so such an asset is
    updated only by the tasks that list it in their outlets.
    """

    name: str
    trigger: Any = attrs.field(eq=False)

    def __init__(self, name: str, trigger: Any) -> None:
        self.__attrs_init__(_check_identifier("watcher name", name), trigger)


@attrs.frozen(init=False, eq=True)
class Asset(BaseAsset):
    """A piece of data named by a URI, e.g. `Asset("s3://bucket/orders.parquet")`."""

    uri: str
    name: str
    group: str
    extra: Mapping[str, Any] = attrs.field(eq=False, hash=False)
    watchers: tuple[AssetWatcher, ...] = attrs.field(eq=False, hash=False, repr=False)

    def __init__(
        self,
        uri: str | None = None,
        *,
        name: str | None = None,
        group: str = "asset",
        extra: Mapping[str, Any] | None = None,
        watchers: Iterable[AssetWatcher] = (),
    ) -> None:
        if uri is None and name is None:
            raise AssetDefinitionError("Asset needs a uri or a name, e.g. Asset('s3://b/key').")
        normalized = normalize_uri(uri if uri is not None else name)
        watching = tuple(watchers)
        if not all(isinstance(w, AssetWatcher) for w in watching):
            raise AssetDefinitionError(
                f"Asset {normalized!r}: watchers must be AssetWatcher(name, trigger) objects."
            )
        self.__attrs_init__(
            normalized,
            _check_identifier("name", name if name is not None else normalized),
            _check_identifier("group", group),
            _json_extra(extra),
            watching,
        )

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        return self.uri in fresh

    def iter_assets(self) -> Iterator[Asset]:
        yield self

    @staticmethod
    def ref(*, name: str | None = None, uri: str | None = None) -> AssetRef:
        """A reference to an asset declared elsewhere (by an outlet or `@asset`), by name or URI.

        It declares nothing itself: a schedule on it waits for events of the
        asset with that name (or URI); an outlet or inlet names that asset.
        """
        if (name is None) == (uri is None):
            raise AssetDefinitionError(
                "Asset.ref() takes exactly one of name= or uri=, e.g. Asset.ref(name='orders')."
            )
        return AssetNameRef(name) if name is not None else AssetUriRef(uri)  # type: ignore[arg-type]


class AssetRef(BaseAsset):
    """A reference to an asset by name or URI (made by Asset.ref), resolved against known ones."""

    def iter_assets(self) -> Iterator[Asset]:
        return iter(())  # references declare no asset

    def iter_refs(self) -> Iterator[AssetRef]:
        yield self


@attrs.frozen(init=False)
class AssetNameRef(AssetRef):
    """`Asset.ref(name=...)`: the asset declared with that name."""

    name: str

    def __init__(self, name: str) -> None:
        self.__attrs_init__(_check_identifier("name", name))

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        return any(uri in fresh for uri in names.get(self.name, ()))


@attrs.frozen(init=False)
class AssetUriRef(AssetRef):
    """`Asset.ref(uri=...)`: the asset with that URI (normalized as Asset normalizes it)."""

    uri: str

    def __init__(self, uri: str) -> None:
        self.__attrs_init__(normalize_uri(uri))

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        return self.uri in fresh


@attrs.frozen(init=False)
class AssetAlias(BaseAsset):
    """A name a task can attach assets to at run time: `outlet_events[alias].add(asset)`."""

    name: str
    group: str

    def __init__(self, name: str, *, group: str = "asset") -> None:
        self.__attrs_init__(
            _check_identifier("alias name", name), _check_identifier("group", group)
        )

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        return any(uri in fresh for uri in aliases.get(self.name, ()))

    def iter_assets(self) -> Iterator[Asset]:
        return iter(())

    def iter_aliases(self) -> Iterator[AssetAlias]:
        yield self


def _condition(value: object) -> BaseAsset:
    if not isinstance(value, BaseAsset):
        raise AssetDefinitionError(
            f"{value!r} is not an asset condition; combine Asset objects with & and |."
        )
    return value


@attrs.frozen(init=False)
class _Combined(BaseAsset):
    objects: tuple[BaseAsset, ...]

    def __init__(self, *objects: BaseAsset) -> None:
        if not objects:
            raise AssetDefinitionError(f"{type(self).__name__} needs at least one asset.")
        self.__attrs_init__(tuple(_condition(o) for o in objects))

    def iter_assets(self) -> Iterator[Asset]:
        seen: set[str] = set()
        for item in self.objects:
            for asset in item.iter_assets():
                if asset.uri not in seen:
                    seen.add(asset.uri)
                    yield asset

    def iter_aliases(self) -> Iterator[AssetAlias]:
        seen: set[str] = set()
        for item in self.objects:
            for alias in item.iter_aliases():
                if alias.name not in seen:
                    seen.add(alias.name)
                    yield alias

    def iter_refs(self) -> Iterator[AssetRef]:
        seen: set[AssetRef] = set()
        for item in self.objects:
            for ref in item.iter_refs():
                if ref not in seen:
                    seen.add(ref)
                    yield ref


class AssetAll(_Combined):
    """Holds once every one of its parts holds (`a & b`; `schedule=[a, b]`)."""

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        return all(o.evaluate(fresh, aliases, names) for o in self.objects)

    def __and__(self, other: object) -> AssetAll:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAll(*self.objects, other)  # a & b & c stays one flat AssetAll


class AssetAny(_Combined):
    """Holds once any one of its parts holds (`a | b`)."""

    def evaluate(
        self,
        fresh: AbstractSet[str],
        aliases: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
        names: Mapping[str, AbstractSet[str]] = _NO_ALIASES,
    ) -> bool:
        return any(o.evaluate(fresh, aliases, names) for o in self.objects)

    def __or__(self, other: object) -> AssetAny:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAny(*self.objects, other)


def as_condition(schedule: Iterable[object] | BaseAsset) -> BaseAsset:
    """`schedule=[a, b]` means all of them, as in Airflow; a condition stays as it is."""
    if isinstance(schedule, BaseAsset):
        return _condition(schedule)
    return AssetAll(*(_condition(item) for item in schedule))


@attrs.frozen(init=False)
class AssetOrTimeSchedule:
    """Runs on the `timetable` AND whenever the `assets` condition holds (Airflow's)."""

    timetable: Any  # a Schedule: checked by authoring.schedules like any schedule
    assets: BaseAsset

    def __init__(self, *, timetable: object, assets: Iterable[object] | BaseAsset) -> None:
        self.__attrs_init__(timetable, as_condition(assets))

    @property
    def summary(self) -> str:
        inner = getattr(self.timetable, "summary", self.timetable)
        return f"{inner} or {describe_condition(self.assets)}"


def describe_condition(condition: BaseAsset) -> str:
    """The condition as text for `dags list`: (a & b) | c, by URI."""
    if isinstance(condition, Asset):
        return condition.uri
    if isinstance(condition, AssetAlias):
        return f"alias:{condition.name}"
    if isinstance(condition, AssetNameRef):
        return f"ref:name={condition.name}"
    if isinstance(condition, AssetUriRef):
        return f"ref:{condition.uri}"
    assert isinstance(condition, _Combined)
    sign = " & " if isinstance(condition, AssetAll) else " | "
    return "(" + sign.join(describe_condition(o) for o in condition.objects) + ")"


def asset_condition(schedule: object) -> BaseAsset | None:
    """The asset half of a DAG's schedule: the condition itself, or an AssetOrTimeSchedule's."""
    if isinstance(schedule, AssetOrTimeSchedule):
        return schedule.assets
    return schedule if isinstance(schedule, BaseAsset) else None


@attrs.frozen
class Metadata:
    """Extra for the event of one outlet, yielded by a task: `yield Metadata(asset, {...})`.

    With `alias`, the event is also attached to that AssetAlias outlet.
    """

    asset: Asset
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    alias: AssetAlias | None = None


@attrs.frozen
class AssetEventDagRun:
    """The run an asset event came from, as Airflow 3's `event.source_dag_run` shows it."""

    dag_id: str
    run_id: str
    logical_date: dt.datetime
    run_type: str
    state: str
    conf: Mapping[str, Any]
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    start_date: dt.datetime | None
    end_date: dt.datetime | None


#: Finds a run by (dag_id, run_id): what a try's context gives its events to look runs up.
RunLookup = Callable[[str, str], "AssetEventDagRun | None"]


@attrs.frozen
class AssetEvent:
    """A recorded asset event as a task reads it (`inlet_events`, `triggering_asset_events`).

    `source_dag_run` is read when first asked for (a try's context gives the
    event a way to look it up; elsewhere it is None), as Airflow fetches it.
    """

    uri: str
    extra: Mapping[str, Any]
    timestamp: dt.datetime | None = None
    source_dag_id: str | None = None
    source_run_id: str | None = None
    source_task_id: str | None = None
    source_map_index: int = -1
    lookup: RunLookup | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def asset(self) -> Asset:
        """The asset the event is of (by URI: its declared name is not carried)."""
        return Asset(self.uri)

    @property
    def source_dag_run(self) -> AssetEventDagRun | None:
        """The run whose task recorded the event; None for events from elsewhere."""
        if self.lookup is None or self.source_dag_id is None or self.source_run_id is None:
            return None
        return self.lookup(self.source_dag_id, self.source_run_id)


@attrs.frozen
class AssetEventSpec:
    """An asset event a successful try reports: the asset's URI and the event's extra."""

    uri: str
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    #: The alias through which the event was added, if any.
    alias: str | None = None


#: Airflow 2's names (`airflow.datasets`), which Airflow 3 renamed: DAG files written for
#: Airflow 2 keep working with only their imports changed.
Dataset = Asset
DatasetAlias = AssetAlias
DatasetAll = AssetAll
DatasetAny = AssetAny
