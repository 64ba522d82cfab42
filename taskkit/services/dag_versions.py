"""Finding and loading a DAG's stored version: parse the folder when it is not known yet."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from taskkit.authoring.dag import DAG
from taskkit.errors import DagImportError, DagNotFoundError
from taskkit.scheduling.dag_processor import sync_dags_folder
from taskkit.serde import load_secret_key, loads_verified_dag

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import DagVersionRecord, Metastore
    from taskkit.scheduling.dag_import import FileImportError


def secret_key(config: Settings) -> bytes:
    """The HMAC key that signs DAG payloads (and, derived from it, API tokens)."""
    return load_secret_key(config.home, config.core.secret_key, config.core.secret_key_file)


def not_found(dag_id: str, folder: object, errors: tuple[FileImportError, ...]) -> Exception:
    """The error for a DAG that is not in the folder: the first import error, if any."""
    if errors:
        first = errors[0]
        more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
        return DagImportError(
            f"{first.message} (DAG {dag_id!r} not found; this file{more} failed to import: "
            "see `taskkit dags list-import-errors`)",
            file=first.file,
            line=first.line,
        )
    return DagNotFoundError(
        f"No DAG {dag_id!r} in {folder}. Run `taskkit dags list` to see what was found."
    )


def current_version(store: Metastore, config: Settings, dag_id: str) -> DagVersionRecord:
    """The DAG's current stored version, parsing the DAGs folder first if it is not known."""
    try:
        dag = store.get_dag(dag_id)
        if dag.is_active and dag.current_version_id is not None:
            return store.get_dag_version(dag.current_version_id)
    except DagNotFoundError:
        pass
    report = sync_dags_folder(store, config, secret_key(config))
    if dag_id not in report.saved:
        raise not_found(dag_id, config.core.dags_folder, report.errors)
    return store.get_current_dag_version(dag_id)


def load_version(config: Settings, version: DagVersionRecord) -> DAG:
    """Verify and unpickle a stored DAG version."""
    return load_signed(secret_key(config), version)


def load_signed(key: bytes, version: DagVersionRecord) -> DAG:
    """Verify a stored version's signature with `key`, then unpickle it."""
    dag = loads_verified_dag(version.payload, version.signature, key)
    assert isinstance(dag, DAG)
    return dag


class DagVersions:
    """Loaded DAG versions by id, kept: a version never changes once stored.

    The API server holds one, so a page of a 1,000-task DAG unpickles it once,
    not on every request.
    """

    def __init__(self, store: Metastore, key: bytes, size: int = 64) -> None:
        self.store = store
        self.key = key
        self.size = size
        self._loaded: dict[int, DAG] = {}
        self._lock = threading.Lock()

    def get(self, version_id: int) -> DAG:
        """The DAG object of a stored version."""
        with self._lock:
            found = self._loaded.get(version_id)
        if found is not None:
            return found
        dag = load_signed(self.key, self.store.get_dag_version(version_id))
        with self._lock:
            if len(self._loaded) >= self.size:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[version_id] = dag
        return dag

    def current(self, dag_id: str) -> DAG:
        """The DAG's current version; DagNotFoundError if it has none."""
        version_id = self.store.get_dag(dag_id).current_version_id
        if version_id is None:
            raise DagNotFoundError(f"DAG {dag_id!r} has no stored version yet.")
        return self.get(version_id)
