"""Task instances of a finished run: their fields, logs per try, XComs and wait reasons."""

from __future__ import annotations

from api_harness import ApiHome

BASE = "/api/v2/dags/etl/dagRuns/r/taskInstances"


def run_once(api: ApiHome) -> None:
    """Trigger run `r` of etl and let the real scheduler finish it."""
    got = api.client.post(
        "/api/v2/dags/etl/dagRuns", json={"dag_run_id": "r"}, headers=api.token("op")
    )
    assert got.status_code == 200
    api.run_scheduler()


def test_task_instances_log_and_xcoms_after_a_run(api_sqlite: ApiHome) -> None:
    """After a run, its task instances have tries and times, logs by try and XComs."""
    api = api_sqlite
    run_once(api)
    headers = api.token("viewer")
    tis = api.client.get(BASE, headers=headers).json()
    assert tis["total_entries"] == 3
    extract = next(t for t in tis["task_instances"] if t["task_id"] == "extract")
    assert extract["state"] == "success"
    assert extract["try_number"] == 1
    assert extract["pool"] == "db"
    assert extract["pool_slots"] == 1
    assert extract["priority_weight"] == 9
    assert extract["start_date"] and extract["end_date"]
    log = api.client.get(f"{BASE}/extract/logs/1", headers=headers).json()
    assert "extracting rows" in log["content"]
    assert log["tries"] == [1]
    assert log["end"] == log["size"]
    later = api.client.get(f"{BASE}/extract/logs/1", params={"start": log["end"]}, headers=headers)
    assert later.json()["content"] == ""
    download = api.client.get(f"{BASE}/extract/logs/1?full_content=true", headers=headers)
    assert "attachment" in download.headers["content-disposition"]
    assert "extracting rows" in download.text
    xcoms = api.client.get(f"{BASE}/extract/xcomEntries", headers=headers).json()
    assert xcoms["xcom_entries"][0]["value"] == {"rows": 3}


def test_a_log_of_a_try_that_does_not_exist_is_404(api_sqlite: ApiHome) -> None:
    """Asking for try 7 of a task that ran once is a 404 that lists the tries with logs."""
    api = api_sqlite
    run_once(api)
    got = api.get(f"{BASE}/extract/logs/7")
    assert got.status_code == 404
    assert "tries with logs: 1" in got.json()["detail"]
    never = api.get("/api/v2/dags/etl/dagRuns/nope/taskInstances/extract/logs/1")
    assert never.status_code == 404


def test_the_wait_reason_is_served_as_the_scheduler_stored_it(api: ApiHome) -> None:
    """A task instance's wait_reason is the scheduler's note, unchanged."""
    from taskkit.metastore import TIChange
    from taskkit.states import State

    api.client.post("/api/v2/dags/etl/dagRuns", json={"dag_run_id": "r"}, headers=api.token("op"))
    key = api.store.list_task_instances("etl", "r")[0].key
    note = "pool 'db' is full: 1 of 1 slots held by etl/other/extract"
    api.store.transition_task_instances(
        [TIChange(key, expected=State.NONE, state=State.SCHEDULED, wait_reason=note)]
    )
    got = api.get(f"{BASE}/{key.task_id}").json()
    assert got["state"] == "scheduled"
    assert got["wait_reason"] == note


RETRIED_DAG = """
import datetime as dt
from taskkit import BashOperator, DAG

with DAG("retried", schedule=None):
    BashOperator(
        task_id="flaky",
        bash_command="echo try {{ ti.try_number }} of {{ dag_run.run_id }}; "
        "test {{ ti.try_number }} -gt 1",
        env={"TRY": "{{ ti.try_number }}"},
        retries=1,
        retry_delay=dt.timedelta(0),
    )
"""


def test_rendered_fields_are_each_trys_own_after_a_real_run(api_sqlite: ApiHome) -> None:
    """A task that fails once and retries: the API shows the fields as the current try rendered
    them, and the metastore keeps what each try rendered (stored by the scheduler)."""
    api = api_sqlite
    api.write_dag("retried.py", RETRIED_DAG)
    from taskkit.services.dags import sync_folder

    sync_folder(api.store, api.config)
    got = api.client.post(
        "/api/v2/dags/retried/dagRuns", json={"dag_run_id": "rr"}, headers=api.token("op")
    )
    assert got.status_code == 200, got.text
    api.run_scheduler()
    ti = api.get("/api/v2/dags/retried/dagRuns/rr/taskInstances/flaky").json()
    assert (ti["state"], ti["try_number"]) == ("success", 2)
    assert ti["why"] == "finished: success"
    assert ti["rendered_fields"] == {
        "bash_command": "echo try 2 of rr; test 2 -gt 1",
        "env": {"TRY": "2"},
    }
    key = api.store.list_task_instances("retried", "rr")[0].key
    by_try = api.store.get_rendered_fields(key)
    assert by_try[1]["bash_command"] == "echo try 1 of rr; test 1 -gt 1"
    assert sorted(by_try) == [1, 2]
    listed = api.get("/api/v2/dags/retried/dagRuns/rr/taskInstances").json()
    assert listed["task_instances"][0]["rendered_fields"] == {}  # only a single GET reads them
