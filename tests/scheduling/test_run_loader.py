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


def _dag() -> DAG:
    with DAG("loaded") as dag:
        EmptyOperator(task_id="a", retries=1) >> EmptyOperator(task_id="b")
    return dag


def _store_dag(
    metastore: Metastore,
    key: bytes = KEY,
    *,
    payload: bytes | None = None,
    spec: tuple[bytes, str] | None = None,
) -> int:
    """Save the DAG's version; without `spec`, as a version stored before revision 0013."""
    payload = serde.dumps_dag(_dag()) if payload is None else payload
    saved = metastore.save_dag_version(
        "loaded",
        "/dags/loaded.py",
        payload,
        serde.content_hash(payload),
        serde.sign(payload, key),
        spec=spec,
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


def test_the_stored_spec_is_read_without_unpickling_the_payload(metastore: Metastore) -> None:
    """With a spec beside it, the payload is never unpickled: here it is not even a pickle."""
    spec = serde.dumps_spec(_dag().spec)
    version = _store_dag(
        metastore, payload=b"not a pickle", spec=(spec, serde.sign_spec(spec, KEY))
    )
    loaded = RunLoader(metastore, KEY).spec(version)
    assert loaded == _dag().spec
    assert loaded.tasks["a"].downstream == {"b"} and loaded.tasks["a"].max_tries == 2


def test_a_spec_signed_with_another_key_or_as_a_payload_is_refused(metastore: Metastore) -> None:
    """A spec is verified before it is unpickled, apart from the payload's signature."""
    spec = serde.dumps_spec(_dag().spec)
    for signature in (serde.sign_spec(spec, b"x" * 32), serde.sign(spec, KEY)):
        version = _store_dag(metastore, payload=signature.encode(), spec=(spec, signature))
        with pytest.raises(DagVersionUnloadableError, match="spec failed its HMAC check"):
            RunLoader(metastore, KEY).spec(version)
