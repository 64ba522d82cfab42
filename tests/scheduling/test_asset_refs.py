"""Asset.ref(...) in schedules and outlets, and events' source_dag_run, under the scheduler."""

from __future__ import annotations

from harness import Home

from taskkit import xcom_codec
from taskkit.states import RunState, RunType, State

REFS = """
from taskkit import Asset

ORDERS = Asset("s3://lake/orders", name="orders")


with DAG("declares", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=lambda: None, outlets=[ORDERS])

with DAG("by_ref", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=lambda: None,
                   outlets=[Asset.ref(name="orders")])

with DAG("unknown_ref", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=lambda: None, retries=0,
                   outlets=[Asset.ref(name="nothing")])


def sources(triggering_asset_events, inlet_events):
    [events] = triggering_asset_events.values()
    run = events[-1].source_dag_run
    inlet = inlet_events[Asset.ref(name="orders")][-1].source_dag_run
    return [run.dag_id, run.run_id, run.run_type, inlet.run_id, events[-1].asset.uri]


with DAG("on_name", schedule=Asset.ref(name="orders"), start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=sources, inlets=[Asset.ref(name="orders")])

with DAG("on_uri", schedule=[Asset.ref(uri="s3://lake/orders/")],
         start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=lambda: None)
"""


def test_refs_resolve_against_declared_assets_and_events_name_their_run(home: Home) -> None:
    """A DAG scheduled on Asset.ref(name=...) or (uri=...) runs on that asset's events, also
    from an outlet given as a ref; each event's source_dag_run is the producing run; a ref
    naming no known asset fails its task with one line."""
    home.write_dag("refs", REFS)
    home.sync()
    produced = home.trigger("by_ref")
    home.run_scheduler()

    [on_name] = home.store.list_runs("on_name")
    [on_uri] = home.store.list_runs("on_uri")
    assert on_name.run_type is RunType.ASSET_TRIGGERED and on_uri.state is RunState.SUCCESS
    stored = home.xcom("on_name", on_name.run_id, "read")
    assert stored is not None
    assert xcom_codec.decode_xcom(stored.value, stored.encoding, key=home.key) == [
        "by_ref",
        produced.run_id,
        "manual",
        produced.run_id,
        "s3://lake/orders",
    ]

    bad = home.trigger("unknown_ref")
    home.run_scheduler()
    write = home.tis("unknown_ref", bad.run_id)["write"]
    assert write.state is State.FAILED
    assert "Asset.ref(name='nothing') names no known asset" in (write.error or "")
