"""The metastore: taskkit's database, behind `Metastore` and its frozen records."""

from __future__ import annotations

from taskkit.metastore.migrate import check_db, init_db, reset_db, upgrade_db
from taskkit.metastore.records import (
    UNSET,
    DagFlags,
    DagRecord,
    DagVersionRecord,
    DbStatus,
    ImportErrorRecord,
    PoolRecord,
    RunColumn,
    RunOrder,
    RunRecord,
    SavedVersion,
    TaskInstanceRecord,
    TIChange,
    XComRecord,
)
from taskkit.metastore.store import Metastore

__all__ = [
    "UNSET",
    "DagFlags",
    "DagRecord",
    "DagVersionRecord",
    "DbStatus",
    "ImportErrorRecord",
    "Metastore",
    "PoolRecord",
    "RunColumn",
    "RunOrder",
    "RunRecord",
    "SavedVersion",
    "TIChange",
    "TaskInstanceRecord",
    "XComRecord",
    "check_db",
    "init_db",
    "reset_db",
    "upgrade_db",
]
