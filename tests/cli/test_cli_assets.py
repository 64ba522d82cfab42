"""`taskkit assets list` and `assets events`, after a real `scheduler --exit-when-idle`."""

from __future__ import annotations

import json

from cli_harness import Cli

DAGS = """
import datetime as dt

from taskkit import DAG, Asset, PythonOperator

REPORT = Asset("file:///data/report.csv", group="reports")


def write(outlet_events):
    outlet_events[REPORT].extra["rows"] = 42


with DAG("produce", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=write, outlets=[REPORT])

with DAG("consume", schedule=[REPORT], start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=lambda: None)
"""


def test_assets_and_events_show_what_the_scheduler_recorded(cli_sqlite: Cli) -> None:
    """One --exit-when-idle session runs the producer AND the asset-triggered consumer."""
    cli_sqlite.write_dag("assets.py", DAGS)
    cli_sqlite.ok("dags", "trigger", "produce")
    cli_sqlite.ok("scheduler", "--exit-when-idle")

    [asset] = json.loads(cli_sqlite.ok("assets", "list", "-o", "json"))
    assert asset["uri"] == "file:///data/report.csv"
    assert (asset["group"], asset["producing_dags"], asset["consuming_dags"], asset["events"]) == (
        "reports",
        ["produce"],
        ["consume"],
        1,
    )
    [event] = json.loads(cli_sqlite.ok("assets", "events", "-o", "json"))
    assert (event["source_dag_id"], event["source_task_id"], event["extra"]) == (
        "produce",
        "write",
        {"rows": 42},
    )
    runs = json.loads(cli_sqlite.ok("runs", "list", "consume", "-o", "json"))
    assert [(r["run_type"], r["state"]) for r in runs] == [("asset_triggered", "success")]
    assert "file:///data/report.csv" in cli_sqlite.ok("assets", "list")


def test_events_of_an_unknown_asset_is_one_line(cli_sqlite: Cli) -> None:
    """Asking for the events of an asset no DAG names says so and how to list them."""
    assert "assets list" in cli_sqlite.fails("assets", "events", "--uri", "s3://nope/x")
