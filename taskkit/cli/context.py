"""What commands share: settings, the metastore, the secret key and finding a DAG.

Everything heavy is imported inside the functions, so importing this module
costs nothing at `--help` time.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from taskkit.errors import DagImportError, MetastoreError
from taskkit.model.task import DEFAULT_POOL

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG
    from taskkit.config import Settings
    from taskkit.metastore import DagVersionRecord, Metastore
    from taskkit.scheduling.dag_import import FileImportError


def settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """The effective settings: taskkit.toml < environment < `overrides` (flags).

    Every command that does work starts here, so this is also where logging is
    set up (warnings and errors on stderr); `--help` never gets this far.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.config import load_settings
    from taskkit.logs import configure_logging

    configure_logging("warning")
    return load_settings(overrides)


@contextlib.contextmanager
def open_store(config: Settings) -> Iterator[Metastore]:
    """The metastore, checked to be initialised (else: "run `taskkit db init`")."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore import Metastore

    store = Metastore.open(config.database.sql_alchemy_conn)
    try:
        yield store
    finally:
        store.dispose()


@contextlib.contextmanager
def metastore_secrets(config: Settings) -> Iterator[None]:
    """Variable and Connection read the metastore inside the block (opened on first use)."""
    from taskkit.authoring.secrets import use_source
    from taskkit.services.secrets_source import MetastoreSecrets

    source = MetastoreSecrets(config)
    try:
        with use_source(source):
            yield
    finally:
        source.close()


def secret_key(config: Settings) -> bytes:
    """The HMAC key that signs DAG payloads."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.dag_versions import secret_key as key_of

    return key_of(config)


def not_found(dag_id: str, folder: object, errors: tuple[FileImportError, ...]) -> Exception:
    """The error for a DAG that is not in the folder: the first import error, if any."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.dag_versions import not_found as error_for

    return error_for(dag_id, folder, errors)


def current_version(store: Metastore, config: Settings, dag_id: str) -> DagVersionRecord:
    """The DAG's current stored version, parsing the DAGs folder first if it is not known."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.dag_versions import current_version as find

    return find(store, config, dag_id)


def load_version(config: Settings, version: DagVersionRecord) -> DAG:
    """Verify and unpickle a stored DAG version."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.dag_versions import load_version as load

    return load(config, version)


def dag_from_folder(config: Settings, dag_id: str) -> DAG:
    """A live DAG object imported from its file in this process (for `dags test`, `tasks test`).

    The folder is parsed in a child first to find the file, so a file that
    hangs or crashes cannot take this process down with it.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.scheduling.dag_import import import_dag_file
    from taskkit.scheduling.dag_processor import parse_folder

    folder = config.core.dags_folder
    parse = parse_folder(
        folder, config.scheduler.parsing_timeout, config.scheduler.parsing_processes
    )
    found = parse.find(dag_id)
    if found is None:
        raise not_found(dag_id, folder, parse.errors)
    if str(parse.folder) not in sys.path:
        sys.path.insert(0, str(parse.folder))  # helper modules beside DAG files, as in Airflow
    imported = import_dag_file(found.fileloc)
    if imported.error is not None:
        error = imported.error
        raise DagImportError(error.message, file=error.file, line=error.line)
    for dag in imported.dags:
        if dag.dag_id == dag_id:
            return dag
    raise not_found(dag_id, folder, parse.errors)  # the file changed between the two imports


def pool_slots_for_test(config: Settings) -> dict[str, int]:
    """Pools from the metastore when it is initialised, else default_pool at its default size."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.metastore import Metastore
    from taskkit.metastore.engine import normalize_url, sqlite_path

    defaults = {DEFAULT_POOL: config.core.default_pool_task_slot_count}
    url = config.database.sql_alchemy_conn
    path = sqlite_path(normalize_url(url))
    if path is not None and not path.exists():
        return defaults  # do not create an empty database file as a side effect
    try:
        with Metastore.open(url) as store:
            return {**defaults, **store.get_pool_slots()}
    except MetastoreError:
        return defaults
