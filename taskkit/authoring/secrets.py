"""Where Variable and Connection look values up while a try (or a DAG.test() run) reads them.

Lookups go, as in Airflow: the environment first (`TASKKIT_VAR_<KEY>`,
`TASKKIT_CONN_<ID>`, read by Variable and Connection themselves), then the
source in force here. A worker process installs the metastore's source
(`taskkit.services.secrets_source`); DAG.test() puts an in-memory one in
force for its run, so tests need no database and leave nothing behind.
With no source at all, only the environment answers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from taskkit.authoring.connections import Connection
    from taskkit.model.assets import Asset, AssetEvent, AssetEventDagRun


class SecretsSource(Protocol):
    """Variables and connections by key; values are the stored strings (JSON not decoded)."""

    def get_variable(self, key: str) -> str | None: ...

    def set_variable(self, key: str, value: str, description: str | None = None) -> None: ...

    def delete_variable(self, key: str) -> bool: ...

    def get_connection(self, conn_id: str) -> Connection | None: ...

    def asset_events(self, uri: str) -> list[AssetEvent]:
        """The asset's latest recorded events, oldest first (a try's `inlet_events`)."""
        ...

    def find_asset(self, *, name: str | None = None, uri: str | None = None) -> Asset | None:
        """The known asset an Asset.ref(name=...) or Asset.ref(uri=...) names, if any."""
        ...

    def dag_run(self, dag_id: str, run_id: str) -> AssetEventDagRun | None:
        """The run an asset event came from (its `source_dag_run`), if it still exists."""
        ...


@attrs.define
class _Installed:
    source: SecretsSource | None = None


_installed = _Installed()
_active: contextvars.ContextVar[SecretsSource | None] = contextvars.ContextVar(
    "taskkit_secrets", default=None
)


def install_source(source: SecretsSource | None) -> None:
    """Make `source` this process's source (a worker does this once, at start)."""
    _installed.source = source


def current_source() -> SecretsSource | None:
    """The source in force: a `use_source` block's, else the installed one, else None."""
    return _active.get() or _installed.source


@contextmanager
def use_source(source: SecretsSource) -> Iterator[None]:
    """Put `source` in force inside the block (DAG.test() runs, `taskkit tasks test`)."""
    token = _active.set(source)
    try:
        yield
    finally:
        _active.reset(token)


@attrs.define
class MemorySecrets:
    """Variables and connections held in memory, optionally over another source.

    Reads fall through to `parent` for what is not held here; writes and
    deletes stay here (a deleted key hides the parent's), so a DAG.test()
    run never changes the metastore it reads.
    """

    variables: dict[str, str | None] = attrs.field(factory=dict)
    connections: dict[str, Connection | None] = attrs.field(factory=dict)
    parent: SecretsSource | None = None

    @classmethod
    def seeded(
        cls,
        variables: Mapping[str, object] | None = None,
        connections: Mapping[str, object] | None = None,
        parent: SecretsSource | None = None,
    ) -> MemorySecrets:
        """From DAG.test()'s `variables` (str, or JSON-able values) and `connections`.

        A connection may be given as a Connection, a URI string or a dict of
        its fields.
        """
        import json

        from taskkit.authoring.connections import Connection

        held: dict[str, str | None] = {}
        for key, value in (variables or {}).items():
            held[key] = value if isinstance(value, str) else json.dumps(value)
        conns: dict[str, Connection | None] = {}
        for conn_id, spec in (connections or {}).items():
            conns[conn_id] = Connection.from_spec(conn_id, spec)
        return cls(held, conns, parent)

    def get_variable(self, key: str) -> str | None:
        if key in self.variables:
            return self.variables[key]
        return self.parent.get_variable(key) if self.parent is not None else None

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        self.variables[key] = value

    def delete_variable(self, key: str) -> bool:
        existed = self.get_variable(key) is not None
        self.variables[key] = None
        return existed

    def asset_events(self, uri: str) -> list[AssetEvent]:
        """The parent's (a DAG.test() run records no events of its own)."""
        return self.parent.asset_events(uri) if self.parent is not None else []

    def find_asset(self, *, name: str | None = None, uri: str | None = None) -> Asset | None:
        """The parent's (a DAG.test() run declares no assets of its own in a metastore)."""
        return self.parent.find_asset(name=name, uri=uri) if self.parent is not None else None

    def dag_run(self, dag_id: str, run_id: str) -> AssetEventDagRun | None:
        return self.parent.dag_run(dag_id, run_id) if self.parent is not None else None

    def get_connection(self, conn_id: str) -> Connection | None:
        if conn_id in self.connections:
            return self.connections[conn_id]
        return self.parent.get_connection(conn_id) if self.parent is not None else None
