"""Triggering and listing runs, the grid's data, and clearing and marking a run."""

from __future__ import annotations

import pytest
from api_harness import ApiHome

from taskkit import validation
from taskkit.errors import InvalidNameError
from taskkit.services.dags import sync_folder


def trigger(api: ApiHome, **body: object) -> object:
    """POST a run as an op."""
    return api.client.post("/api/v2/dags/etl/dagRuns", json=body, headers=api.token("op"))


def test_trigger_with_id_date_and_conf(api: ApiHome) -> None:
    """POST dagRuns with dag_run_id, logical_date and conf creates a queued run with them."""
    got = trigger(api, dag_run_id="r1", logical_date="2026-03-01T00:00:00Z", conf={"rows": 5})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["dag_run_id"] == "r1"
    assert body["state"] == "queued"
    assert body["conf"] == {"rows": 5}
    assert body["logical_date"].startswith("2026-03-01T00:00:00")
    run = api.get("/api/v2/dags/etl/dagRuns/r1").json()
    assert run["conf"] == {"rows": 5}
    tis = api.get("/api/v2/dags/etl/dagRuns/r1/taskInstances").json()["task_instances"]
    assert {t["task_id"]: t["pool"] for t in tis} == {
        "extract": "db",
        "load": "default_pool",
        "notify": "default_pool",
    }
    assert all(t["map_index"] == -1 and t["try_number"] == 0 for t in tis)


def test_trigger_refuses_duplicates_unknown_dags_and_bad_conf(api: ApiHome) -> None:
    """409 for a taken run id, 404 for an unknown DAG, 400 for a param of the wrong type,
    422 for a conf that is not an object."""
    assert trigger(api, dag_run_id="same").status_code == 200
    dup = trigger(api, dag_run_id="same")
    assert dup.status_code == 409
    assert "already has a run 'same'" in dup.json()["detail"]
    unknown = api.client.post("/api/v2/dags/nope/dagRuns", json={}, headers=api.token("op"))
    assert unknown.status_code == 404
    bad_param = trigger(api, conf={"rows": "many"})
    assert bad_param.status_code == 400
    assert "DAG 'etl', param 'rows'" in bad_param.json()["detail"]
    assert "integer" in bad_param.json()["detail"]
    too_small = trigger(api, conf={"rows": 0})
    assert too_small.status_code == 400
    assert "minimum" in too_small.json()["detail"]
    not_object = trigger(api, conf=[1, 2])
    assert not_object.status_code == 422
    assert "conf" in not_object.json()["detail"]
    naive = trigger(api, logical_date="2026-03-01T00:00:00")
    assert naive.status_code == 400
    assert "time zone" in naive.json()["detail"]
    assert [r.run_id for r in api.store.list_runs("etl")] == ["same"]


def test_run_ids_that_are_too_long_or_odd_are_refused(api: ApiHome) -> None:
    """A run id over 250 characters, or with spaces, slashes or quotes, is refused with the
    message of the one rule the CLI and the metastore use too (taskkit.validation)."""
    for bad in ("x" * 251, "has space", "a/b", "quote'd", "../up", "tab\there"):
        got = trigger(api, dag_run_id=bad)
        assert got.status_code == 400, bad
        with pytest.raises(InvalidNameError) as rule:
            validation.run_id(bad)
        assert got.json()["detail"] == str(rule.value), bad
    assert api.store.list_runs("etl") == []


def test_runs_are_listed_newest_first_with_a_total(api: ApiHome) -> None:
    """GET dagRuns pages the runs newest first and filters by state."""
    for day in (1, 2, 3):
        trigger(api, dag_run_id=f"d{day}", logical_date=f"2026-03-0{day}T00:00:00Z")
    body = api.get("/api/v2/dags/etl/dagRuns", params={"limit": 2}).json()
    assert body["total_entries"] == 3
    assert [r["dag_run_id"] for r in body["dag_runs"]] == ["d3", "d2"]
    none = api.get("/api/v2/dags/etl/dagRuns", params={"state": "success"}).json()
    assert none["total_entries"] == 0
    bad = api.get("/api/v2/dags/etl/dagRuns", params={"state": "happy"})
    assert bad.status_code == 400


def test_order_by_sorts_runs_as_airflow_names_it(api: ApiHome) -> None:
    """`order_by=logical_date` is oldest first, a leading '-' reverses, Airflow's field names
    are taken (dag_run_id), and an unknown field is a 400 listing the ones there are."""
    for run_id, day in (("b", 2), ("c", 1), ("a", 3)):
        trigger(api, dag_run_id=run_id, logical_date=f"2026-03-0{day}T00:00:00Z")

    def order(by: str) -> list[str]:
        got = api.get("/api/v2/dags/etl/dagRuns", params={"order_by": by})
        assert got.status_code == 200, got.text
        return [r["dag_run_id"] for r in got.json()["dag_runs"]]

    assert order("logical_date") == ["c", "b", "a"]
    assert order("-logical_date") == ["a", "b", "c"]
    assert order("dag_run_id") == ["a", "b", "c"]
    assert order("-queued_at") == ["a", "c", "b"]  # the last triggered first
    # None has started: ties are broken by id (the trigger order), in the same direction.
    assert (order("start_date"), order("-start_date")) == (["b", "c", "a"], ["a", "c", "b"])
    paged = api.get("/api/v2/dags/~/dagRuns", params={"order_by": "-dag_run_id", "limit": 1})
    assert [r["dag_run_id"] for r in paged.json()["dag_runs"]] == ["c"]
    bad = api.get("/api/v2/dags/etl/dagRuns", params={"order_by": "-duration"})
    assert bad.status_code == 400
    assert "Cannot order runs by '-duration': use one of id, dag_id" in bad.json()["detail"]


def test_tilde_lists_every_dags_runs_as_in_airflow(api: ApiHome) -> None:
    """GET /dags/~/dagRuns pages the runs of every DAG together, newest first, with a total."""
    trigger(api, dag_run_id="e1", logical_date="2026-03-01T00:00:00Z")
    trigger(api, dag_run_id="e3", logical_date="2026-03-03T00:00:00Z")
    other = api.client.post(
        "/api/v2/dags/other/dagRuns",
        json={"dag_run_id": "o2", "logical_date": "2026-03-02T00:00:00Z"},
        headers=api.token("op"),
    )
    assert other.status_code == 200, other.text
    body = api.get("/api/v2/dags/~/dagRuns").json()
    assert body["total_entries"] == 3
    assert [(r["dag_id"], r["dag_run_id"]) for r in body["dag_runs"]] == [
        ("etl", "e3"),
        ("other", "o2"),
        ("etl", "e1"),
    ]
    page = api.get("/api/v2/dags/~/dagRuns", params={"limit": 1, "offset": 1}).json()
    assert (page["total_entries"], page["dag_runs"][0]["dag_run_id"]) == (3, "o2")
    assert api.get("/api/v2/dags/~/dagRuns", params={"state": "success"}).json() == {
        "dag_runs": [],
        "total_entries": 0,
    }
    assert api.get("/api/v2/dags/nope/dagRuns").status_code == 404


def test_the_grid_gives_runs_by_tasks(api: ApiHome) -> None:
    """The grid's data has the tasks in graph order and one cell per run, oldest run first."""
    for day in (1, 2):
        trigger(api, dag_run_id=f"d{day}", logical_date=f"2026-03-0{day}T00:00:00Z")
    grid = api.get("/ui/grid/etl").json()
    assert grid["task_ids"] == ["extract", "load", "notify"]
    assert [r["dag_run_id"] for r in grid["runs"]] == ["d1", "d2"]
    assert [grid["codes"][letter] for letter in grid["cells"]["extract"]] == ["none", "none"]
    assert grid["tries"] == {}


def test_clearing_and_marking_a_finished_run(api_sqlite: ApiHome) -> None:
    """Marking a task failed, then clearing it, reruns it; marking the whole run success
    sets every task instance."""
    api = api_sqlite
    trigger(api, dag_run_id="r")
    api.run_scheduler()
    op = api.token("op")
    marked = api.client.patch(
        "/api/v2/dags/etl/dagRuns/r/taskInstances/load",
        json={"new_state": "failed", "include_downstream": True},
        headers=op,
    )
    assert marked.json()["task_instances"] == ["load", "notify"]
    states = {t.task_id: t.state.value for t in api.store.list_task_instances("etl", "r")}
    assert states == {"extract": "success", "load": "failed", "notify": "failed"}
    dry = api.client.post(
        "/api/v2/dags/etl/clearTaskInstances",
        json={"dag_run_id": "r", "task_ids": ["load"], "include_downstream": True, "dry_run": True},
        headers=op,
    )
    assert dry.json()["task_instances"] == ["load", "notify"]
    assert {t.task_id: t.state.value for t in api.store.list_task_instances("etl", "r")} == states
    cleared = api.client.post(
        "/api/v2/dags/etl/clearTaskInstances",
        json={"dag_run_id": "r", "task_ids": ["load"], "include_downstream": True},
        headers=op,
    )
    assert cleared.json()["total_entries"] == 2
    api.run_scheduler()
    tis = {t.task_id: t for t in api.store.list_task_instances("etl", "r")}
    assert tis["load"].state.value == "success"
    assert tis["load"].try_number == 2
    assert api.store.get_run("etl", "r").state.value == "success"
    whole = api.client.patch("/api/v2/dags/etl/dagRuns/r", json={"state": "failed"}, headers=op)
    assert whole.json()["task_instances"] == ["extract", "load", "notify"]
    unknown = api.client.patch(
        "/api/v2/dags/etl/dagRuns/r/taskInstances/ghost", json={"new_state": "failed"}, headers=op
    )
    assert unknown.status_code == 404


MARKED = """
import datetime as dt
from taskkit import DAG, EmptyOperator, ExternalTaskMarker

with DAG("parent", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    EmptyOperator(task_id="parent_task") >> ExternalTaskMarker(
        task_id="marker", external_dag_id="child", external_task_id="child_task1",
        recursion_depth={depth})

with DAG("child", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    EmptyOperator(task_id="child_task0") >> EmptyOperator(task_id="child_task1") >> [
        EmptyOperator(task_id="child_task2"),
        ExternalTaskMarker(task_id="grandchild", external_dag_id="parent",
                           external_task_id="parent_task", logical_date="2026-03-02T00:00:00"),
    ]
"""


@pytest.mark.parametrize("depth", [10, 1])
def test_clearing_through_a_marker_reaches_the_other_dags_run(api: ApiHome, depth: int) -> None:
    """The API clear follows markers: total_entries counts the external tasks cleared; a chain
    deeper than recursion_depth is a 400 that names it."""
    api.write_dag("marked.py", MARKED.format(depth=depth))
    sync_folder(api.store, api.config)
    op = api.token("op")
    for dag_id, run_id, day in [("parent", "p1", 1), ("child", "c1", 1), ("parent", "p2", 2)]:
        body = {"dag_run_id": run_id, "logical_date": f"2026-03-0{day}T00:00:00Z"}
        created = api.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json=body, headers=op)
        assert created.status_code == 200, created.text

    body = {"dag_run_id": "p1", "task_ids": ["parent_task"], "include_downstream": True}
    dry = api.client.post(
        "/api/v2/dags/parent/clearTaskInstances", json={**body, "dry_run": True}, headers=op
    )
    cleared = api.client.post("/api/v2/dags/parent/clearTaskInstances", json=body, headers=op)

    if depth == 1:
        assert dry.status_code == 400
        assert cleared.status_code == 400
        assert "deeper than its recursion_depth" in cleared.json()["detail"]
        return
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["task_instances"] == ["parent_task", "marker"]
    # p1's two, c1's child_task1, child_task2 and grandchild, then p2's two (by date 03-02)
    assert dry.json()["total_entries"] == cleared.json()["total_entries"] == 7


def test_a_triggered_run_gets_the_interval_its_schedule_infers(api: ApiHome) -> None:
    """The ETL DAG has no schedule: as in Airflow its manual run's interval is the logical
    date at both ends (the CLI test covers cron and trigger timetables through the same path)."""
    got = trigger(api, dag_run_id="r1", logical_date="2026-03-01T06:00:00Z")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["data_interval_start"] == body["data_interval_end"] == body["logical_date"]
