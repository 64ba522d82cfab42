"""A worker's read-only look-ups of XComs its workload does not carry (non-ancestors' values).

A workload carries the values of its task's ancestors; `xcom_pull` may name
any task of the run, as in Airflow, and those values are read here from the
metastore when pulled. Reads only: the scheduler stays the one writer. A
try holds no secret key, so a signed pickle found here is refused with the
fix, never loaded.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from taskkit.errors import XComUnreadableError
from taskkit.execution.workload import EncodedXCom
from taskkit.model.results import EncodedXComSequence

if TYPE_CHECKING:
    from taskkit.execution.runtime import XComLookup
    from taskkit.metastore.store import Metastore
    from taskkit.model.keys import TaskInstanceKey

#: Where a worker's tries read the metastore: the executor exports it to its worker processes
#: (services/secrets_source.try_environment).
METASTORE_URL_ENV = "TASKKIT__DATABASE__SQL_ALCHEMY_CONN"
_stores: dict[str, Metastore] = {}


def metastore_lookup(key: TaskInstanceKey) -> XComLookup:
    """Look up values of the run of `key` in the metastore (opened on first use)."""

    def lookup(task_id: str, xcom_key: str, map_index: int | None) -> object:
        records = [
            r
            for r in _store().get_task_xcoms(key.dag_id, key.run_id, task_id, xcom_key)
            if map_index is None or r.map_index == map_index
        ]
        if not records:
            return None
        if any(r.encoding != "json" for r in records):
            raise XComUnreadableError(task_id, xcom_key, key.task_id)
        values = tuple(EncodedXCom(r.value, r.encoding, r.length) for r in records)
        if map_index is None and records[0].map_index >= 0:
            return EncodedXComSequence(values, tuple(r.map_index for r in records))
        return values[0]

    return lookup  # type: ignore[return-value]


def _store() -> Metastore:
    # Lazy, and allowed by an import-linter exception: only a try that pulls a task
    # outside its ancestors pays for SQLAlchemy, and it only reads.
    from taskkit.config import load_settings
    from taskkit.metastore.store import Metastore

    url = os.environ.get(METASTORE_URL_ENV) or load_settings().database.sql_alchemy_conn
    if url not in _stores:
        _stores[url] = Metastore.open(url, check_schema=False)
    return _stores[url]
