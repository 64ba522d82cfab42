"""Asset-triggered run creation: only DAGs with new events are looked at, each event once."""

from __future__ import annotations

import datetime as dt

from taskkit import DAG, Asset, EmptyOperator
from taskkit.metastore import Metastore
from taskkit.metastore.records import AssetEventWrite, TIChange
from taskkit.model.dag import DagSpec
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.scheduling.asset_runs import AssetRunCreator
from taskkit.scheduling.dag_flags import DagFlagBook
from taskkit.states import RunType, State

T0 = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)
A, B = Asset("s3://x/a"), Asset("s3://x/b")


def _consumer(dag_id: str, schedule: object) -> DagSpec:
    with DAG(dag_id, schedule=schedule, start_date=T0) as dag:  # type: ignore[arg-type]
        EmptyOperator(task_id="noop")
    return dag.spec


PRODUCER = TaskInstanceKey("producer", "r", "t")


def _record(store: Metastore, uri: str) -> None:
    """Write an event as the scheduler does: with the producing try's success."""
    success = TIChange(PRODUCER, expected=[State.NONE, State.SUCCESS], state=State.SUCCESS)
    events = [AssetEventWrite(PRODUCER, uri, {"n": 1})]
    assert store.transition_task_instances([success], asset_events=events) == [True]


def test_only_dags_with_new_events_are_looked_at(metastore: Metastore) -> None:
    """An idle refresh loads no spec; an event wakes its consumers only; each run consumes it."""
    producer = metastore.save_dag_version("producer", "/p.py", b"p", "producer", "sig")
    metastore.create_run(
        "producer",
        "r",
        T0,
        run_type=RunType.MANUAL,
        dag_version_id=producer.version_id,
        tasks=[TaskSpec("t")],
    )
    specs: dict[int, DagSpec] = {}
    for spec in (_consumer("on_a", [A]), _consumer("on_both", A & B), _consumer("clock", "@daily")):
        saved = metastore.save_dag_version(spec.dag_id, "/d.py", b"p", spec.dag_id, "sig")
        consumed = [A, B] if spec.dag_id == "on_both" else [A] if spec.dag_id == "on_a" else []
        metastore.save_asset_references(spec.dag_id, consumed, [])
        specs[saved.version_id] = spec
    looked_at: list[str] = []

    def spec_of(version_id: int) -> DagSpec:
        looked_at.append(specs[version_id].dag_id)
        return specs[version_id]

    book, creator = DagFlagBook(), AssetRunCreator(metastore)
    creator.start()
    assert (
        creator.create_due_runs(book.flags, book.refresh(metastore, T0), spec_of=spec_of, now=T0)
        == []
    )
    assert looked_at == []  # no events anywhere: nothing to look at

    _record(metastore, A.uri)
    creator.notify([A.uri])
    created = creator.create_due_runs(book.flags, set(), spec_of=spec_of, now=T0)
    assert created == ["on_a"]
    assert sorted(looked_at) == ["on_a", "on_both"]  # never "clock"
    assert creator.create_due_runs(book.flags, set(), spec_of=spec_of, now=T0) == []

    later = T0 + dt.timedelta(minutes=1)
    _record(metastore, B.uri)
    restarted = AssetRunCreator(metastore)  # a new scheduler starts from the metastore's queue
    restarted.start()
    assert restarted.create_due_runs(book.flags, set(), spec_of=spec_of, now=later) == ["on_both"]
    (run,) = metastore.list_runs("on_both")
    assert run.run_type is RunType.ASSET_TRIGGERED
    assert sorted(run.conf["triggering_asset_events"]) == [A.uri, B.uri]
    assert metastore.queued_asset_dags() == set()
