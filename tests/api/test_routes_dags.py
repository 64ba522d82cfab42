"""/api/v2/dags and /api/v2/importErrors in Airflow's shapes: paging, filters, pausing."""

from __future__ import annotations

from api_harness import ApiHome

from taskkit.services.dags import sync_folder
from taskkit.states import RunState


def test_the_dag_list_has_airflows_shape_and_total(api: ApiHome) -> None:
    """GET /api/v2/dags gives `dags` (with dag_id, is_paused, tags...) and `total_entries`."""
    body = api.get("/api/v2/dags").json()
    assert body["total_entries"] == 2
    first = body["dags"][0]
    assert first["dag_id"] == "etl"
    assert first["is_paused"] is False
    assert [t["name"] for t in first["tags"]] == ["demo", "etl"]
    assert first["fileloc"].endswith("etl.py")


def test_the_dag_list_pages_and_filters_on_the_server(api: ApiHome) -> None:
    """limit/offset page the list; dag_id_pattern, tags and paused narrow it; totals follow."""
    for i in range(5):
        api.write_dag(f"many_{i}.py", f'from taskkit import DAG\nDAG("many_{i}", tags=["bulk"])\n')
    sync_folder(api.store, api.config)
    page = api.get("/api/v2/dags", params={"limit": 2, "offset": 1}).json()
    assert page["total_entries"] == 7
    assert [d["dag_id"] for d in page["dags"]] == ["many_0", "many_1"]
    found = api.get("/api/v2/dags", params={"dag_id_pattern": "MANY_3"}).json()
    assert [d["dag_id"] for d in found["dags"]] == ["many_3"]
    tagged = api.get("/api/v2/dags", params={"tags": ["bulk"], "limit": 1}).json()
    assert tagged["total_entries"] == 5
    assert len(tagged["dags"]) == 1
    api.client.patch("/api/v2/dags/many_4", json={"is_paused": True}, headers=api.token("op"))
    paused = api.get("/api/v2/dags", params={"paused": "true"}).json()
    assert [d["dag_id"] for d in paused["dags"]] == ["many_4"]


def test_bad_paging_values_are_refused_with_a_detail(api: ApiHome) -> None:
    """A limit out of range is a 422 whose detail names the parameter."""
    got = api.get("/api/v2/dags", params={"limit": 0})
    assert got.status_code == 422
    assert "limit" in got.json()["detail"]


def test_pausing_through_patch(api: ApiHome) -> None:
    """PATCH /api/v2/dags/{dag_id} with is_paused pauses and unpauses the DAG."""
    headers = api.token("op")
    got = api.client.patch("/api/v2/dags/etl", json={"is_paused": True}, headers=headers)
    assert got.status_code == 200
    assert got.json()["is_paused"] is True
    assert api.store.get_dag("etl").is_paused
    api.client.patch("/api/v2/dags/etl", json={"is_paused": False}, headers=headers)
    assert not api.store.get_dag("etl").is_paused


def test_unknown_dags_are_404_with_a_hint(api: ApiHome) -> None:
    """An unknown dag_id is a 404 whose detail says how to see the known DAGs."""
    got = api.get("/api/v2/dags/nope")
    assert got.status_code == 404
    assert "taskkit dags list" in got.json()["detail"]
    patched = api.client.patch(
        "/api/v2/dags/nope", json={"is_paused": True}, headers=api.token("op")
    )
    assert patched.status_code == 404


def test_import_errors_name_the_file_and_line(api: ApiHome) -> None:
    """A DAG file that fails to import shows up with its file name and line."""
    api.write_dag("broken.py", "from taskkit import DAG\n\nraise ValueError('bad config')\n")
    sync_folder(api.store, api.config)
    body = api.get("/api/v2/importErrors").json()
    assert body["total_entries"] == 1
    error = body["import_errors"][0]
    assert error["filename"].endswith("broken.py")
    assert error["line"] == 3
    assert "bad config" in error["stack_trace"]


def test_a_dags_tasks_in_airflows_shape(api_sqlite: ApiHome) -> None:
    """GET .../tasks lists the current version's tasks by id, with pool, weights and edges;
    .../tasks/{task_id} gives one, and an unknown task is a 404 naming where to look."""
    api = api_sqlite
    body = api.get("/api/v2/dags/etl/tasks").json()
    assert body["total_entries"] == 3
    assert [t["task_id"] for t in body["tasks"]] == ["extract", "load", "notify"]
    extract = api.get("/api/v2/dags/etl/tasks/extract").json()
    assert extract == body["tasks"][0]
    assert (extract["pool"], extract["pool_slots"], extract["priority_weight"]) == ("db", 1, 7)
    assert extract["weight_rule"] == "downstream"
    assert extract["priority_weight_total"] == 9  # its own 7, and load's and notify's 1 each
    assert extract["downstream_task_ids"] == ["load"]
    assert extract["retry_delay"] == {
        "__type": "TimeDelta",
        "days": 0,
        "seconds": 300,
        "microseconds": 0,
    }
    notify = body["tasks"][2]
    assert notify["operator_name"] == "BashOperator"
    assert "bash_command" in notify["template_fields"]
    assert notify["upstream_task_ids"] == ["load"]
    missing = api.get("/api/v2/dags/etl/tasks/nope")
    assert missing.status_code == 404
    assert "GET /api/v2/dags/etl/tasks lists them" in missing.json()["detail"]
    assert api.get("/api/v2/dags/nope/tasks").status_code == 404


def test_the_version_needs_no_login(api_sqlite: ApiHome) -> None:
    """GET /api/v2/version answers without a login, as Airflow's does."""
    from importlib.metadata import version

    got = api_sqlite.client.get("/api/v2/version")
    assert got.status_code == 200
    assert got.json() == {"version": version("taskkit"), "git_version": None}


def test_dag_stats_count_each_dags_runs_by_state(api: ApiHome) -> None:
    """GET /api/v2/dagStats: every run state per DAG, zeros included, as Airflow's; dag_ids
    narrows it, and a DAG without runs is left out."""
    op = api.token("op")
    for run_id in ("a", "b", "c"):
        api.client.post("/api/v2/dags/etl/dagRuns", json={"dag_run_id": run_id}, headers=op)
    api.store.set_run_state("etl", "c", RunState.FAILED)  # as the scheduler ends a run
    api.client.post("/api/v2/dags/other/dagRuns", json={"dag_run_id": "x"}, headers=op)
    body = api.get("/api/v2/dagStats").json()
    assert body["total_entries"] == 2
    etl = body["dags"][0]
    assert (etl["dag_id"], etl["dag_display_name"]) == ("etl", "etl")
    assert {s["state"]: s["count"] for s in etl["stats"]} == {
        "queued": 2,
        "running": 0,
        "success": 0,
        "failed": 1,
    }
    only = api.get("/api/v2/dagStats", params={"dag_ids": ["other", "nope"]}).json()
    assert [d["dag_id"] for d in only["dags"]] == ["other"]


def test_the_dag_list_orders_by_airflows_fields(api: ApiHome) -> None:
    """order_by with Airflow's names, `-` for descending; DAGs with no next run sort last
    either way; an unknown field is a 400 listing the known ones."""
    api.write_dag(
        "daily.py",
        "import datetime as dt\nfrom taskkit import DAG\n"
        'DAG("daily", schedule="@daily", start_date=dt.datetime(2026, 1, 1))\n',
    )
    sync_folder(api.store, api.config)

    def ids(order_by: str) -> list[str]:
        got = api.get("/api/v2/dags", params={"order_by": order_by})
        assert got.status_code == 200, got.text
        return [d["dag_id"] for d in got.json()["dags"]]

    assert ids("-dag_id") == ["other", "etl", "daily"]
    assert ids("next_dagrun") == ["daily", "etl", "other"]
    assert ids("-next_dagrun") == ["daily", "other", "etl"]
    bad = api.get("/api/v2/dags", params={"order_by": "-owners"})
    assert bad.status_code == 400
    assert "Cannot order DAGs by '-owners': use one of dag_id," in bad.json()["detail"]
