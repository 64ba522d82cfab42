"""/api/v2/assets and /api/v2/assets/events: the same answers as `taskkit assets`."""

from __future__ import annotations

from api_harness import ApiHome

from taskkit.services.dags import sync_folder

DAGS = """
import datetime as dt

from taskkit import DAG, Asset, PythonOperator

REPORT = Asset("file:///data/report.csv")


def write(outlet_events):
    outlet_events[REPORT].extra["rows"] = 5


with DAG("produce", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="write", python_callable=write, outlets=[REPORT])

with DAG("consume", schedule=[REPORT], start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="read", python_callable=lambda: None)
"""


def test_assets_and_their_events(api_sqlite: ApiHome) -> None:
    """A viewer sees the asset with producer and consumer, then the event a run recorded."""
    api = api_sqlite
    api.write_dag("assets.py", DAGS)
    sync_folder(api.store, api.config)
    body = api.get("/api/v2/assets").json()
    assert body["total_entries"] == 1
    [asset] = body["assets"]
    assert (asset["uri"], asset["producing_dags"], asset["consuming_dags"], asset["events"]) == (
        "file:///data/report.csv",
        ["produce"],
        ["consume"],
        0,
    )
    assert api.client.post(
        "/api/v2/dags/produce/dagRuns", json={}, headers=api.token("op")
    ).is_success
    api.run_scheduler()
    events = api.get("/api/v2/assets/events", params={"uri": "file:///data/report.csv"}).json()
    [event] = events["asset_events"]
    assert (event["source_dag_id"], event["extra"]) == ("produce", {"rows": 5})
    assert api.get("/api/v2/assets/events", params={"uri": "s3://none"}).status_code == 404
    assert api.get("/api/v2/assets/events", params={"limit": 0}).status_code == 422
