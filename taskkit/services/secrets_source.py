"""The metastore as the source of Variable and Connection inside tries (and the CLI's tests).

A worker installs one `MetastoreSecrets` when it starts; it opens nothing
until a try first reads a variable or a connection, so tries that use
neither pay nothing, and the zygote never imports SQLAlchemy (fork() cost
grows with its memory). The try's process then opens the metastore itself,
with what the executor exports to it (`try_environment`).

How this squares with the one-writer rule (docs/architecture.md): that rule
is about the scheduler's decisions — task instance states and XComs — which
only the scheduler writes. Variables and connections are configuration that
people write from the CLI and the API beside a running scheduler; a try that
calls Variable.set writes them the same way, through the same service, in
one short transaction with SQLite's busy timeout, and never touches a row the
scheduler owns. Reads take no write lock at all (WAL).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from taskkit.authoring.connections import Connection

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import Metastore
    from taskkit.model.assets import Asset, AssetEvent, AssetEventDagRun
    from taskkit.services.fernet import SecretBox


HOME_VAR = "TASKKIT_HOME"
URL_VAR = "TASKKIT__DATABASE__SQL_ALCHEMY_CONN"
FERNET_VAR = "TASKKIT__CORE__FERNET_KEY"


def try_environment(settings: Settings) -> dict[str, str]:
    """What an executor puts in its tries' environment so they open this metastore.

    Tries read these three values instead of loading the settings, so they
    never parse taskkit.toml (which may hold core.secret_key; see
    docs/security.md).
    """
    env = {HOME_VAR: str(settings.home), URL_VAR: settings.database.sql_alchemy_conn}
    if settings.core.fernet_key:
        env[FERNET_VAR] = settings.core.fernet_key
    return env


class MetastoreSecrets:
    """Variables and connections from the metastore, opened on first use."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._opened: tuple[Metastore, SecretBox] | None = None

    def _open(self) -> tuple[Metastore, SecretBox]:
        if self._opened is None:
            # Imported on first use, not with the worker: see the module docstring.
            from taskkit.metastore import Metastore
            from taskkit.services.fernet import box_for, secret_box

            env = os.environ
            if self._settings is not None:
                url, box = self._settings.database.sql_alchemy_conn, secret_box(self._settings)
            elif URL_VAR in env and HOME_VAR in env:  # set by the executor: see try_environment
                url, box = env[URL_VAR], box_for(env.get(FERNET_VAR), Path(env[HOME_VAR]))
            else:
                from taskkit.config import load_settings

                settings = load_settings()
                url, box = settings.database.sql_alchemy_conn, secret_box(settings)
            self._opened = (Metastore.open(url), box)
        return self._opened

    def get_variable(self, key: str) -> str | None:
        from taskkit.services import variables  # with the metastore: see _open

        found = variables.find_variable(*self._open(), key)
        return None if found is None else found.value

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        from taskkit.services import variables  # with the metastore: see _open

        variables.set_variable(*self._open(), key, value, description)

    def delete_variable(self, key: str) -> bool:
        store, _ = self._open()
        return store.delete_variable(key)

    def get_connection(self, conn_id: str) -> Connection | None:
        from taskkit.services import connections  # with the metastore: see _open

        return connections.find_connection(*self._open(), conn_id)

    def asset_events(self, uri: str) -> list[AssetEvent]:
        from taskkit.services import assets  # with the metastore: see _open

        store, _ = self._open()
        return assets.events_of(store, uri)

    def find_asset(self, *, name: str | None = None, uri: str | None = None) -> Asset | None:
        store, _ = self._open()
        return store.find_asset(name=name, uri=uri)

    def dag_run(self, dag_id: str, run_id: str) -> AssetEventDagRun | None:
        from taskkit.services import assets  # with the metastore: see _open

        store, _ = self._open()
        return assets.source_dag_run(store, dag_id, run_id)

    def close(self) -> None:
        """Dispose of the metastore's connections, if it was opened."""
        if self._opened is not None:
            self._opened[0].dispose()
            self._opened = None
