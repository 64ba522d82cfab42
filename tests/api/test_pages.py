"""The UI's pages as HTML: task groups and edge labels in the graph, groups in the grid's data,
and errors shown as pages."""

from __future__ import annotations

from api_harness import PASSWORDS, ApiHome

from taskkit.services.dags import sync_folder

GROUPED_DAG = """
from taskkit import DAG, EmptyOperator, Label, TaskGroup
with DAG("grouped"):
    start = EmptyOperator(task_id="start")
    with TaskGroup("load") as load:
        EmptyOperator(task_id="orders") >> EmptyOperator(task_id="totals")
    start >> Label("when ready") >> load
"""


def login(api: ApiHome, role: str = "viewer") -> None:
    """Log the client in through the form (the session cookie stays on the client)."""
    got = api.client.post(
        "/login", data={"username": role, "password": PASSWORDS[role]}, follow_redirects=False
    )
    assert got.status_code == 303


def test_the_graph_draws_task_groups_and_edge_labels(api_sqlite: ApiHome) -> None:
    """The DAG page's graph has a box per task group and the text of each Label."""
    api = api_sqlite
    api.write_dag("grouped.py", GROUPED_DAG)
    sync_folder(api.store, api.config)
    login(api)
    page = api.client.get("/dags/grouped").text
    assert 'class="group"' in page
    assert ">load</text>" in page
    assert 'class="edge-label"' in page
    assert "when ready" in page
    grid = api.get("/ui/grid/grouped").json()
    assert grid["groups"] == {"load.orders": "load", "load.totals": "load"}


def test_an_unknown_page_or_dag_is_an_error_page(api: ApiHome) -> None:
    """Pages answer errors with a page that says what is wrong, not JSON."""
    login(api)
    missing = api.client.get("/dags/nope")
    assert missing.status_code == 404
    assert "No DAG &#39;nope&#39;" in missing.text
    assert "<html" in missing.text
    nowhere = api.client.get("/no/such/page")
    assert nowhere.status_code == 404
    assert "No page at /no/such/page" in nowhere.text


def test_every_page_renders_for_a_viewer(api: ApiHome) -> None:
    """The DAG list, a DAG, a run, a task, pools and health render for a viewer."""
    api.client.post("/api/v2/dags/etl/dagRuns", json={"dag_run_id": "r"}, headers=api.token("op"))
    login(api)
    for url, text in (
        ("/", "etl"),
        ("/dags/etl", "Trigger etl"),
        ("/dags/etl/runs/r", "Gantt"),
        ("/dags/etl/runs/r/tasks/extract", "Why:"),
        ("/dags/etl/runs/r/tasks/notify", "echo try {{ ti.try_number }}"),
        ("/pools", "default_pool"),
        ("/health", "Metastore"),
    ):
        got = api.client.get(url)
        assert got.status_code == 200, url
        assert text in got.text, url
