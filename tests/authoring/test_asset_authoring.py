"""Assets in DAG files: outlets and inlets on tasks, asset schedules, and DAG.test()."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from taskkit import (
    DAG,
    Asset,
    AssetAlias,
    AssetAll,
    AssetOrTimeSchedule,
    AssetWatcher,
    CronTriggerTimetable,
    Metadata,
    PythonOperator,
    asset,
    task,
)
from taskkit.authoring import registry
from taskkit.errors import DagDefinitionError
from taskkit.scheduling.dag_import import import_dag_file
from taskkit.scheduling.timetable import Timetable

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
ORDERS = Asset("s3://lake/orders")
USERS = Asset("s3://lake/users")


def test_a_bad_outlet_uri_names_the_dag_and_the_task() -> None:
    """An outlet given as a URI string is checked like an Asset, naming where it is."""
    with (
        DAG("etl", schedule=None, start_date=START),
        pytest.raises(DagDefinitionError) as caught,
    ):
        PythonOperator(task_id="load", python_callable=print, outlets=["s3://b/a key"])
    assert str(caught.value).startswith("DAG 'etl', task 'load': outlets: Asset URI 's3://b/a k")
    with (
        DAG("etl2", schedule=None, start_date=START),
        pytest.raises(DagDefinitionError, match="task 'load': inlets must hold Asset"),
    ):
        PythonOperator(task_id="load", python_callable=print, inlets=[42])


def test_a_bad_asset_in_a_dag_file_is_one_import_error_with_its_line(tmp_path: Path) -> None:
    """Asset("...") with a bad URI fails the file's import with the line and the reason."""
    path = tmp_path / "bad.py"
    path.write_text("from taskkit import Asset\n\nBAD = Asset('airflow://x/y')\n")
    imported = import_dag_file(path)
    assert imported.error is not None
    assert imported.error.line == 3
    assert "scheme 'airflow' is reserved" in imported.error.message


def test_asset_schedules_are_conditions_and_the_time_part_stays_a_timetable() -> None:
    """schedule=[a, b] is AssetAll; AssetOrTimeSchedule plans its timetable's runs too."""
    with DAG("both", schedule=[ORDERS, USERS], start_date=START) as both:
        pass
    assert both.schedule == AssetAll(ORDERS, USERS)
    assert Timetable.of(both).next_run(None, START) is None  # no time-based runs
    cron = CronTriggerTimetable("0 6 * * *", timezone="UTC")
    schedule = AssetOrTimeSchedule(timetable=cron, assets=ORDERS | USERS)
    with DAG("either", schedule=schedule, start_date=START) as either:
        pass
    planned = Timetable.of(either).next_run(None, START)
    assert planned is not None
    assert planned.run_after == START.replace(hour=6)
    with pytest.raises(DagDefinitionError, match=r"DAG 'x': schedule: .* not an asset condition"):
        DAG("x", schedule=[ORDERS, "s3://lake/users"], start_date=START)


def test_dag_test_reports_the_outlet_events_of_successful_tries() -> None:
    """DAG.test() returns each success's events with their extra; a failed task has none."""
    alias = AssetAlias("daily")

    with DAG("produce", schedule=None, start_date=START) as dag:

        @task(outlets=[ORDERS])
        def orders(outlet_events):  # type: ignore[no-untyped-def]
            outlet_events[ORDERS].extra["rows"] = 10

        @task(outlets=[USERS, alias])
        def users():  # type: ignore[no-untyped-def]
            yield Metadata(USERS, {"rows": 3})
            yield Metadata(Asset("s3://lake/extra"), {"n": 1}, alias=alias)
            return "done"

        @task(outlets=[Asset("s3://lake/never")])
        def fails() -> None:
            raise RuntimeError("no")

        @task(inlets=[ORDERS])
        def reads(inlets, outlets):  # type: ignore[no-untyped-def]
            return [a.uri for a in inlets] + [a.uri for a in outlets]

        orders()
        users()
        fails()
        reads()

    result = dag.test()
    assert result.xcom("users") == "done"
    assert result.xcom("reads") == ["s3://lake/orders"]
    events = sorted((e.uri, e.extra, e.task_id) for e in result.asset_events)
    assert events == [
        ("s3://lake/extra", {"n": 1}, "users"),
        ("s3://lake/orders", {"rows": 10}, "orders"),
        ("s3://lake/users", {"rows": 3}, "users"),
    ]


def test_a_consumer_reads_triggering_asset_events_from_its_context() -> None:
    """What the scheduler puts in an asset-triggered run's conf is the context's value."""
    with DAG("consume", schedule=[ORDERS], start_date=START) as dag:

        @task
        def read(triggering_asset_events):  # type: ignore[no-untyped-def]
            (event,) = triggering_asset_events[ORDERS]
            return [event.extra["rows"], event.source_dag_id, event.timestamp]

        read()

    events = {ORDERS.uri: [{"extra": {"rows": 7}, "source_dag_id": "produce"}]}
    result = dag.test(conf={"triggering_asset_events": events})
    assert result.xcom("read") == [7, "produce", None]


def test_the_asset_decorator_makes_a_one_task_dag_producing_the_asset() -> None:
    """@asset: DAG and task named after the function; self, context keys and inlets by name."""
    with registry.collect_dags() as found:

        @asset(schedule=None)
        def raw_orders(self, outlet_events):  # type: ignore[no-untyped-def]
            outlet_events[self].extra["rows"] = 5
            return self.uri

        @asset(schedule=[raw_orders], uri="s3://lake/clean", group="clean")
        def clean_orders(raw_orders, logical_date):  # type: ignore[no-untyped-def]
            return raw_orders.uri

    dags = {d.dag_id: d for d in found}
    assert set(dags) == {"raw_orders", "clean_orders"}
    assert raw_orders == Asset("raw_orders")
    assert clean_orders.uri == "s3://lake/clean"
    assert dags["clean_orders"].schedule == AssetAll(Asset("raw_orders"))
    produced = dags["raw_orders"].test()
    assert produced.xcom("raw_orders") == "raw_orders"
    assert [(e.uri, e.extra) for e in produced.asset_events] == [("raw_orders", {"rows": 5})]
    consumed = dags["clean_orders"].test()
    assert consumed.xcom("clean_orders") == "raw_orders"
    assert [e.uri for e in consumed.asset_events] == ["s3://lake/clean"]


def test_asset_multi_produces_every_outlet() -> None:
    """@asset.multi: one task updating several assets; the result schedules on all of them."""
    with registry.collect_dags() as found:

        @asset.multi(schedule=None, outlets=[ORDERS, USERS])
        def both(outlet_events):  # type: ignore[no-untyped-def]
            outlet_events[USERS].extra["rows"] = 2

    (dag,) = found
    assert (dag.dag_id, both) == ("both", AssetAll(ORDERS, USERS))
    result = dag.test()
    assert sorted((e.uri, e.extra) for e in result.asset_events) == [
        (ORDERS.uri, {}),
        (USERS.uri, {"rows": 2}),
    ]


def test_refs_in_outlets_name_the_dags_own_assets_under_dag_test() -> None:
    """DAG.test() resolves an Asset.ref outlet (and outlet_events[ref]) against the assets the
    DAG declares; one naming no known asset fails its task before it runs, naming the ref."""
    named = Asset("s3://lake/named", name="named")
    with DAG("refs", schedule=None, start_date=START) as dag:

        @task(inlets=[named])
        def declares() -> None:
            return None

        @task(outlets=[Asset.ref(name="named")])
        def by_name(outlets, outlet_events):  # type: ignore[no-untyped-def]
            outlet_events[Asset.ref(uri="s3://lake/named")].extra["rows"] = 2  # refs as keys
            return [a.uri for a in outlets]

        @task(outlets=[Asset.ref(name="nobody")], retries=0)
        def unknown() -> str:
            return "ran"

        declares()
        by_name()
        unknown()

    result = dag.test()
    assert result.xcom("by_name") == ["s3://lake/named"]
    assert [(e.uri, e.extra, e.task_id) for e in result.asset_events] == [
        ("s3://lake/named", {"rows": 2}, "by_name")
    ]
    assert result.task_states["unknown"].value == "failed"
    assert result.xcom("unknown") is None
    assert "Asset.ref(name='nobody') names no known asset" in result.logs("unknown")


def test_watchers_are_accepted_with_a_warning_that_they_do_not_run() -> None:
    """Asset(watchers=[AssetWatcher(...)]) loads; a DAG scheduled on it says in one line that
    taskkit does not run watchers yet."""
    watched = Asset("s3://lake/incoming", watchers=[AssetWatcher(name="queue", trigger=object())])
    assert watched == Asset("s3://lake/incoming")  # watchers are not part of its identity
    dag = DAG("watched", schedule=[watched], start_date=START)
    [warning] = dag.warnings
    assert "'s3://lake/incoming' has watchers (AssetWatcher), which taskkit does not run" in warning
    with pytest.raises(DagDefinitionError, match="watchers must be AssetWatcher"):
        Asset("s3://lake/x", watchers=["queue"])  # type: ignore[list-item]


def test_inlet_events_by_name_or_uri_and_a_clear_error_for_an_alias() -> None:
    """`for_asset(name=/uri=)` finds the task's own inlet even in DAG.test() (no metastore);
    reading through an alias, not built yet, says what to do instead."""
    orders = Asset("s3://lake/orders", name="orders")

    @task(inlets=[orders, AssetAlias("daily")])
    def read(inlet_events: Any) -> list[int]:
        found = [
            len(inlet_events.for_asset(name="orders")),
            len(inlet_events.for_asset(uri="s3://lake/orders")),
        ]
        with pytest.raises(KeyError, match="through an asset alias is not supported yet"):
            inlet_events.for_asset_alias(name="daily")
        return found

    with DAG("inlets_by_name", schedule=None, start_date=dt.datetime(2026, 1, 1)) as d:
        read()
    assert d.test().xcom("read") == [0, 0]
