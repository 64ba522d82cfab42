"""Statements run straight on the driver store what SQLAlchemy itself would store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from taskkit.metastore import Metastore, RunRecord
from taskkit.metastore.driver_batch import DriverBatch
from taskkit.metastore.engine import create_engine_for
from taskkit.metastore.task_instances import _conditional_update
from taskkit.states import State

MakeRun = Callable[..., RunRecord]

#: Values of every kind a change sets: an aware datetime off UTC, one on a whole second
#: (SQLite's text form must still carry its microseconds), a string, an int and a None.
VALUES = {
    "state": State.RUNNING,
    "queued_at": dt.datetime(2026, 3, 1, 9, 30, 15, 250, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "started_at": dt.datetime(2026, 3, 1, 7, 31, tzinfo=dt.timezone.utc),
    "hostname": "worker-1",
    "pid": 4242,
    "error": None,
}
COLUMNS = tuple(VALUES)
STORED = "SELECT state, queued_at, started_at, hostname, pid, error, updated_at FROM task_instance"


def key_of(task_id: str) -> dict[str, object]:
    return {"k_dag_id": "etl", "k_run_id": "run1", "k_task_id": task_id, "k_map_index": -1}


@pytest.fixture
def engine(db_url: str, metastore: Metastore) -> Iterator[Engine]:
    """An engine of its own on the test's (initialised) metastore."""
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


def test_a_row_written_on_the_driver_is_stored_as_sqlalchemy_stores_it(
    engine: Engine, metastore: Metastore, make_run: MakeRun
) -> None:
    """Task a goes through SQLAlchemy, task b through a DriverBatch: the stored values match."""
    make_run()
    now = dt.datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=dt.timezone.utc)
    statement = _conditional_update(frozenset({State.NONE}), COLUMNS)
    with engine.begin() as connection:
        connection.execute(statement, {**key_of("a"), **VALUES, "updated_at": now})
        batch = DriverBatch.compile(statement, connection.dialect)
        shared = {"updated_at": batch.process("updated_at", now)}
        row = batch.row({**key_of("b"), **VALUES}, shared)
        assert batch.send(connection, [row])() == [1]
    with engine.connect() as connection:
        a, b = (
            connection.exec_driver_sql(f"{STORED} WHERE task_id = '{task_id}'").one()
            for task_id in ("a", "b")
        )
    assert a == b
    (ti_a, ti_b) = metastore.list_task_instances("etl", "run1")
    assert ti_b.queued_at == VALUES["queued_at"] and ti_b.started_at == VALUES["started_at"]
    assert (ti_a.state, ti_b.state) == (State.RUNNING, State.RUNNING)


def test_each_row_says_whether_its_state_was_the_expected_one(
    engine: Engine, metastore: Metastore, make_run: MakeRun
) -> None:
    """Each row's count says whether it matched its expected state."""
    make_run()
    with engine.begin() as connection:
        connection.execute(text("UPDATE task_instance SET state = 'skipped' WHERE task_id = 'a'"))
        statement = _conditional_update(frozenset({State.NONE}), ("state",))
        batch = DriverBatch.compile(statement, connection.dialect)
        shared = {"updated_at": batch.process("updated_at", dt.datetime.now(dt.timezone.utc))}
        rows = [batch.row({**key_of(t), "state": State.QUEUED}, shared) for t in ("a", "b")]
        assert batch.send(connection, rows)() == [0, 1]
    states = {ti.task_id: ti.state for ti in metastore.list_task_instances("etl", "run1")}
    assert states == {"a": State.SKIPPED, "b": State.QUEUED}
