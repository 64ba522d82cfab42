"""Data-aware scheduling: a producer updates two assets, a report runs once both changed.

`load_orders` and `load_customers` each update one asset (with the row count
as the event's extra). `daily_report` is scheduled on both assets: under the
scheduler it runs once each has a new event since its last run, and reads the
events that triggered it. Try it:

    taskkit dags trigger load_sales
    taskkit scheduler --exit-when-idle      # runs load_sales, then daily_report
    taskkit assets events

In a test, DAG.test() returns the events in `result.asset_events`, and a
consumer gets them with DAG.test(conf={"triggering_asset_events": {...}}).
"""

from __future__ import annotations

from typing import Any

from taskkit import Asset, Metadata, dag, task, timezone

ORDERS = Asset("file:///data/sales/orders.parquet", group="sales")
CUSTOMERS = Asset("file:///data/sales/customers.parquet", group="sales")


@dag(schedule=None, start_date=timezone.datetime(2026, 1, 1), catchup=False)
def load_sales() -> None:
    """Load orders and customers; each success records an asset event."""

    @task(outlets=[ORDERS])
    def load_orders(outlet_events: Any) -> int:
        rows = 1200
        outlet_events[ORDERS].extra["rows"] = rows
        return rows

    @task(outlets=[CUSTOMERS])
    def load_customers() -> Any:
        yield Metadata(CUSTOMERS, {"rows": 40})
        return 40

    load_orders()
    load_customers()


@dag(schedule=[ORDERS, CUSTOMERS], start_date=timezone.datetime(2026, 1, 1), catchup=False)
def daily_report() -> None:
    """Report on the rows each triggering event carried."""

    @task
    def report(triggering_asset_events: Any) -> dict[str, int]:
        return {
            asset.uri.rsplit("/", 1)[-1]: sum(e.extra.get("rows", 0) for e in events)
            for asset, events in triggering_asset_events.items()
        }

    report()


load_sales_dag = load_sales()
daily_report_dag = daily_report()
