"""Asset-triggered runs under the real scheduler: outlets record events, consumers run."""

from __future__ import annotations

from harness import Home

from taskkit import xcom_codec
from taskkit.metastore.records import RunRecord
from taskkit.states import RunState, RunType

PRODUCERS = """
from taskkit import Asset, Metadata

ORDERS = Asset("s3://lake/orders", extra={"team": "sales"})
USERS = Asset("s3://lake/users")


def orders(outlet_events):
    outlet_events[ORDERS].extra["rows"] = 10
    return "orders done"


def users():
    yield Metadata(USERS, {"rows": 3})
    return "users done"


with DAG("make_orders", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=orders, outlets=[ORDERS])

with DAG("make_users", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=users, outlets=[USERS])

def latest_rows(inlet_events):
    return [e.extra["rows"] for e in inlet_events[ORDERS]]


with DAG("inspect", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=latest_rows, inlets=[ORDERS])
    BashOperator(
        task_id="templated",
        inlets=[ORDERS],
        bash_command="echo {{ inlet_events.for_asset(uri='s3://lake/orders')[-1].extra.rows }}",
    )

with DAG("make_nothing", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="fail", python_callable=lambda: 1 / 0, outlets=[ORDERS])
"""

CONSUMERS = """
from taskkit import Asset, AssetOrTimeSchedule, CronTriggerTimetable

ORDERS = Asset("s3://lake/orders")
USERS = Asset("s3://lake/users")


def seen(triggering_asset_events, ti):
    return {a.uri: [e.extra for e in events] for a, events in triggering_asset_events.items()}


with DAG("both", schedule=[ORDERS, USERS], start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=seen)

with DAG("either", schedule=ORDERS | USERS, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=seen)

yearly_or_orders = AssetOrTimeSchedule(
    timetable=CronTriggerTimetable("0 0 1 1 *", timezone="UTC"), assets=[ORDERS]
)
with DAG("timed_or", schedule=yearly_or_orders, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=seen)

# Airflow 2's names, as a file written for it has them once its imports are changed.
from taskkit import Dataset


def seen_v2(triggering_dataset_events):
    return [a.uri for a in triggering_dataset_events]


with DAG("airflow2", schedule=[Dataset("s3://lake/orders")], start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=seen_v2)
"""


def _asset_runs(home: Home, dag_id: str) -> list[RunRecord]:
    runs = home.store.list_runs(dag_id)
    assert all(r.run_type is RunType.ASSET_TRIGGERED for r in runs)
    return sorted(runs, key=lambda r: r.created_at)


def _setup(home: Home) -> None:
    home.write_dag("producers", PRODUCERS)
    home.write_dag("consumers", CONSUMERS)
    home.sync()


def test_an_and_schedule_runs_once_every_asset_has_a_new_event(any_home: Home) -> None:
    """[a, b] waits for both; a | b runs on each; the run sees the events that triggered it,
    also under Airflow 2's names (`Dataset`, `triggering_dataset_events`)."""
    home = any_home
    _setup(home)
    home.trigger("make_orders")
    home.run_scheduler()
    assert _asset_runs(home, "both") == []  # users has no event yet
    timed = {r.run_type for r in home.store.list_runs("timed_or")}
    assert timed == {RunType.SCHEDULED, RunType.ASSET_TRIGGERED}  # its cron point, and orders
    (either,) = _asset_runs(home, "either")
    stored = home.xcom("either", either.run_id, "read")
    assert stored is not None  # the task saw the events by asset, with their extra
    seen = xcom_codec.decode_xcom(stored.value, stored.encoding, key=home.key)
    assert seen == {"s3://lake/orders": [{"rows": 10}]}
    (airflow2,) = _asset_runs(home, "airflow2")
    stored = home.xcom("airflow2", airflow2.run_id, "read")
    assert stored is not None
    assert xcom_codec.decode_xcom(stored.value, stored.encoding, key=home.key) == [
        "s3://lake/orders"
    ]

    home.trigger("make_users")
    home.run_scheduler()
    (both,) = _asset_runs(home, "both")
    assert both.state is RunState.SUCCESS
    assert both.conf["triggering_asset_events"]["s3://lake/orders"][0]["extra"] == {"rows": 10}
    assert both.conf["triggering_asset_events"]["s3://lake/users"][0]["extra"] == {"rows": 3}
    assert len(_asset_runs(home, "either")) == 2

    home.trigger("make_users")
    home.run_scheduler()
    assert len(_asset_runs(home, "both")) == 1  # orders has no event since its last run
    assert len(_asset_runs(home, "either")) == 3


def test_a_failed_producer_records_no_event(home: Home) -> None:
    """Only a success updates its outlets: nothing downstream runs after a failure."""
    _setup(home)
    run = home.trigger("make_nothing")
    home.run_scheduler()
    assert home.run_state("make_nothing", run.run_id) is RunState.FAILED
    assert home.store.list_asset_events() == []
    assert _asset_runs(home, "either") == []


def test_events_recorded_before_a_restart_trigger_runs_after_it(home: Home) -> None:
    """The queue of unconsumed events lives in the metastore: a new scheduler acts on it."""
    _setup(home)
    home.store.set_paused("either", True)
    home.trigger("make_orders")
    home.run_scheduler()
    assert _asset_runs(home, "either") == []  # paused: its event waits in the queue
    assert home.store.queued_asset_dags() == {"either", "both"}  # both waits for users too

    home.store.set_paused("either", False)
    home.run_scheduler()  # a new scheduler process-equivalent: it starts from the queue
    (run,) = _asset_runs(home, "either")
    assert run.state is RunState.SUCCESS
    assert home.store.queued_asset_dags() == {"both"}


def test_event_records_its_source_task_and_extra(home: Home) -> None:
    """The event names the try that produced it, with the extra the task set."""
    _setup(home)
    run = home.trigger("make_orders")
    home.run_scheduler()
    (event,) = home.store.list_asset_events()
    assert (event.uri, event.source_dag_id, event.source_run_id, event.source_task_id) == (
        "s3://lake/orders",
        "make_orders",
        run.run_id,
        "write",
    )
    assert event.extra == {"rows": 10}


def test_a_task_reads_its_inlets_events(home: Home) -> None:
    """inlet_events[asset] lists the asset's recorded events, oldest first, with their extra;
    `inlet_events.for_asset(uri=...)` in a template, as in Airflow's example DAG."""
    _setup(home)
    home.trigger("make_orders")
    home.trigger("make_orders")
    home.run_scheduler()
    run = home.trigger("inspect")
    home.run_scheduler()
    stored = home.xcom("inspect", run.run_id, "read")
    assert stored is not None
    assert xcom_codec.decode_xcom(stored.value, stored.encoding, key=home.key) == [10, 10]
    templated = home.xcom("inspect", run.run_id, "templated")
    assert templated is not None
    assert xcom_codec.decode_xcom(templated.value, templated.encoding, key=home.key) == "10"


ALIASED = """
from taskkit import Asset, AssetAlias

DAILY = AssetAlias("daily")
REPORT = Asset("s3://lake/report")


def through_alias(outlet_events):
    outlet_events[DAILY].add(REPORT, extra={"via": "alias"})


def direct(outlet_events):
    outlet_events[REPORT].extra["via"] = "direct"


with DAG("via_alias", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=through_alias, outlets=[DAILY])

with DAG("direct", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=direct, outlets=[REPORT])

with DAG("on_alias", schedule=[DAILY], start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=lambda: None)
"""


def test_a_dag_scheduled_on_an_alias_runs_for_the_assets_it_resolved_to(home: Home) -> None:
    """Before any event through the alias nothing runs; after, every event of its asset does."""
    home.write_dag("aliased", ALIASED)
    home.sync()
    home.trigger("direct")
    home.run_scheduler()
    assert _asset_runs(home, "on_alias") == []  # the alias resolves to nothing yet

    home.trigger("via_alias")
    home.run_scheduler()
    (first,) = _asset_runs(home, "on_alias")
    assert first.conf["triggering_asset_events"]["s3://lake/report"][-1]["extra"] == {
        "via": "alias"
    }

    home.trigger("direct")
    home.run_scheduler()
    assert len(_asset_runs(home, "on_alias")) == 2  # resolved: a direct event counts too
