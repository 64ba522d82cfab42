"""A mapped task in the API and UI: one grid row with counts, its instances, each one's panel."""

from __future__ import annotations

from api_harness import ApiHome

from taskkit.services.dags import sync_folder
from taskkit.services.runs import mapped_overall

MAPPED_DAG = """
from taskkit import BashOperator, dag, task

@dag(schedule=None)
def fan():
    @task
    def numbers():
        return [1, 2, 3, 4]

    @task
    def check(n: int) -> int:
        if n == 3:
            raise ValueError("three is bad")
        return n * 10

    check.expand(n=numbers())
    BashOperator.partial(task_id="say").expand(bash_command=["echo {{ ti.map_index }} a", "echo b"])

fan()
"""


def _run_fan(api: ApiHome) -> None:
    api.write_dag("fan.py", MAPPED_DAG)
    sync_folder(api.store, api.config)
    got = api.client.post(
        "/api/v2/dags/fan/dagRuns", json={"dag_run_id": "m"}, headers=api.token("op")
    )
    assert got.status_code == 200, got.text
    api.run_scheduler()


def test_a_mapped_task_is_one_grid_row_with_counts_and_each_instance_its_panel(
    api_sqlite: ApiHome,
) -> None:
    """After a real run with one failed instance of four, the grid has one row for the mapped
    task with 3 success and 1 failed, coloured failed; its page lists the instances and each
    instance's panel, log, XCom and rendered fields are its own."""
    api = api_sqlite
    _run_fan(api)
    assert sorted(
        t.map_index for t in api.store.list_task_instances("fan", "m") if t.task_id == "check"
    ) == [0, 1, 2, 3]
    grid = api.get("/ui/grid/fan").json()
    assert grid["task_ids"].count("check") == 1
    assert grid["mapped"]["check"] == [{"success": 3, "failed": 1}]
    assert grid["codes"][grid["cells"]["check"]] == "failed"
    assert grid["mapped"]["say"] == [{"success": 2}]
    assert "numbers" not in grid["mapped"]

    page = api.get("/dags/fan/runs/m/tasks/check")
    assert page.status_code == 200
    assert "mapped, 4 instances" in page.text
    for index in range(4):
        assert f"/tasks/check?map_index={index}" in page.text

    one = api.get("/dags/fan/runs/m/tasks/check?map_index=2")
    assert one.status_code == 200
    assert "three is bad" in one.text
    assert 'data-map-index="2"' in one.text
    base = "/api/v2/dags/fan/dagRuns/m/taskInstances"
    ti = api.get(f"{base}/check/1").json()
    assert (ti["map_index"], ti["state"]) == (1, "success")
    assert api.get(f"{base}/check/2").json()["state"] == "failed"
    assert api.get(f"{base}/check/9").status_code == 404
    xcoms = api.get(f"{base}/check/xcomEntries", params={"map_index": 1}).json()
    assert [x["value"] for x in xcoms["xcom_entries"]] == [20]
    log = api.get(f"{base}/check/logs/1", params={"map_index": 2}).json()
    assert "three is bad" in log["content"]
    said = api.get(f"{base}/say/0").json()
    assert said["rendered_fields"] == {"bash_command": "echo 0 a"}
    shown = api.get("/dags/fan/runs/m/tasks/say?map_index=0").text
    assert "Rendered by try 1." in shown and "echo 0 a" in shown


def test_a_mapped_tasks_overall_state_shows_work_under_way_first() -> None:
    """Running beats everything while instances are under way; then failed, skipped, success."""
    assert mapped_overall({"success": 3, "running": 1, "failed": 1}) == "running"
    assert mapped_overall({"scheduled": 2, "success": 1}) == "scheduled"
    assert mapped_overall({"success": 3, "failed": 1}) == "failed"
    assert mapped_overall({"skipped": 2}) == "skipped"
    assert mapped_overall({"skipped": 1, "success": 1}) == "success"


def test_instances_of_a_task_the_current_version_does_not_map_are_still_counted(
    api: ApiHome,
) -> None:
    """A run of an older version in which a task was mapped: its instances are counted in one
    cell too, not shown as whichever instance was read last."""
    got = api.client.post(
        "/api/v2/dags/etl/dagRuns", json={"dag_run_id": "old"}, headers=api.token("op")
    )
    assert got.status_code == 200, got.text
    extract = next(t for t in api.store.list_task_instances("etl", "old") if t.task_id == "extract")
    assert api.store.expand_task_instance(extract.key, 3)
    grid = api.get("/ui/grid/etl").json()
    assert grid["mapped"] == {"extract": [{"none": 3}]}
    assert grid["codes"][grid["cells"]["extract"]] == "none"
    assert grid["cells"]["load"] == grid["cells"]["extract"]
