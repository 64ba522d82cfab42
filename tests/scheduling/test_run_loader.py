"""RunLoader: a run read back from the metastore resumes exactly where it was."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import DAG, EmptyOperator, serde
from taskkit.errors import DagVersionUnloadableError
from taskkit.execution.workload import EncodedXCom
from taskkit.metastore import Metastore, TIChange
from taskkit.metastore.records import XComWrite
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.run_loader import RunLoader
from taskkit.states import RunType, State

KEY = b"k" * 32
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _store_dag(metastore: Metastore, key: bytes = KEY) -> int:
    with DAG("loaded") as dag:
        EmptyOperator(task_id="a", retries=1) >> EmptyOperator(task_id="b")
    payload = serde.dumps_dag(dag)
    saved = metastore.save_dag_version(
        "loaded", "/dags/loaded.py", payload, serde.content_hash(payload), serde.sign(payload, key)
    )
    return saved.version_id


def test_a_loaded_run_keeps_states_tries_retry_times_and_encoded_xcoms(
    metastore: Metastore,
) -> None:
    """States, try numbers and retry times come back; XComs stay encoded (never unpickled)."""
    version = _store_dag(metastore)
    record = metastore.create_run(
        "loaded",
        "r1",
        T0,
        run_type=RunType.MANUAL,
        dag_version_id=version,
        tasks=list(RunLoader(metastore, KEY).spec(version).tasks.values()),
    )
    a = TaskInstanceKey("loaded", "r1", "a")
    retry_at = T0 + dt.timedelta(minutes=5)
    metastore.transition_task_instances(
        [TIChange(a, State.NONE, state=State.UP_FOR_RETRY, try_number=1, next_retry_at=retry_at)],
        [XComWrite(a, "partial", b"41", "json")],
    )
    run = RunLoader(metastore, KEY).load(metastore.get_run("loaded", record.run_id))
    assert run.engine.ti("a").state is State.UP_FOR_RETRY
    assert run.engine.ti("a").try_number == 1
    assert run.engine.next_retry_at() == retry_at
    assert run.engine.xcoms == {("a", -1): {"partial": EncodedXCom(b"41", "json")}}
    assert run.engine.dirty == {"b"}  # undecided tasks are re-evaluated after a load


def test_a_version_signed_with_another_key_is_refused(metastore: Metastore) -> None:
    """The loader verifies a DAG version's signature before unpickling it."""
    version = _store_dag(metastore, key=b"x" * 32)
    with pytest.raises(DagVersionUnloadableError, match="failed its HMAC check"):
        RunLoader(metastore, KEY).spec(version)
