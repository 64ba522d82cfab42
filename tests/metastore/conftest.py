"""Fixtures for metastore tests (`db_url` and `metastore` live in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from taskkit.metastore import Metastore, RunRecord
from taskkit.model.task import TaskSpec
from taskkit.states import RunType

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


MakeRun = Callable[..., RunRecord]


@pytest.fixture
def make_run(metastore: Metastore) -> MakeRun:
    """Create a manual run of DAG `dag_id` with the given task specs (default: tasks a, b)."""

    def make(
        run_id: str = "run1",
        tasks: list[TaskSpec] | None = None,
        *,
        dag_id: str = "etl",
        logical_date: dt.datetime = T0,
        run_type: RunType = RunType.MANUAL,
    ) -> RunRecord:
        saved = metastore.save_dag_version(dag_id, f"/dags/{dag_id}.py", b"payload", "h1", "s1")
        specs = tasks if tasks is not None else [TaskSpec("a"), TaskSpec("b")]
        return metastore.create_run(
            dag_id,
            run_id,
            logical_date,
            run_type=run_type,
            dag_version_id=saved.version_id,
            tasks=specs,
        )

    return make
