"""The Celery worker's try runner, driven directly (a real zygote; no broker needed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

pytest.importorskip("celery", reason="install taskkit[celery] to test the Celery executor")

from celery.exceptions import Reject

from taskkit.execution import celery_worker
from taskkit.execution.base import DagPayload
from taskkit.execution.celery_app import seal
from taskkit.execution.celery_worker import TryRunner
from taskkit.execution.workload import Workload
from taskkit.model.keys import TaskInstanceKey

KEY = b"k" * 32


def test_a_metastore_outage_hands_the_message_back_instead_of_losing_its_tries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the worker cannot read the metastore to check its tries are still due, the
    message goes back to the broker (requeued) for a later delivery: acknowledging it as a
    failed task would lose the tries and leave them `queued` in the scheduler for good."""
    monkeypatch.setattr(celery_worker, "METASTORE_RETRY_S", 0.0)
    checked: list[int] = []

    def unreachable(workloads: Sequence[Workload]) -> list[str | None]:
        checked.append(len(workloads))
        raise OSError("could not connect to server: Connection refused")

    def no_dag(version_id: int) -> DagPayload:
        raise AssertionError("a try that was not checked must not be loaded")

    runner = TryRunner(
        concurrency=2,
        secret_key=KEY,
        events_url="redis://127.0.0.1:1/0",  # never used: nothing is reported
        logs_folder=tmp_path / "logs",
        fetch_dag=no_dag,
        check_due=unreachable,
    )
    runner.start()
    try:
        when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        tries = tuple(
            Workload(TaskInstanceKey("etl", "manual__1", task_id), 1, 1, 7, when, {}, "manual", "")
            for task_id in ("a", "b")
        )
        with pytest.raises(Reject) as rejected:
            runner.run("events", seal(tries, KEY), "scheduler-host")
        assert rejected.value.requeue is True
        assert sum(checked) == 2
        assert runner.running_tries() == []  # nothing is held for a message handed back
    finally:
        runner.stop()
