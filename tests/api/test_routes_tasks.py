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


def test_tilde_lists_every_runs_and_every_dags_task_instances_filtered(api: ApiHome) -> None:
    """`~` for the DAG or the run, as in Airflow, paged on the server; `state` and `pool`
    narrow any listing, and an unknown state is a 400 naming the valid ones."""
    from taskkit.metastore import TIChange
    from taskkit.states import State

    op = api.token("op")
    for dag_id, run_id in (("etl", "r1"), ("etl", "r2"), ("other", "r1")):
        api.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id}, headers=op)
    (extract,) = [t for t in api.store.list_task_instances("etl", "r2") if t.task_id == "extract"]
    api.store.transition_task_instances(
        [TIChange(extract.key, expected=State.NONE, state=State.SCHEDULED)]
    )

    def listed(url: str, **params: object) -> tuple[list[tuple[str, str, str]], int]:
        got = api.get(f"/api/v2/dags/{url}/taskInstances", params=params)
        assert got.status_code == 200, got.text
        body = got.json()
        rows = [(t["dag_id"], t["dag_run_id"], t["task_id"]) for t in body["task_instances"]]
        return rows, body["total_entries"]

    everything, total = listed("~/dagRuns/~")
    assert total == 7 and everything[:2] == [("etl", "r1", "extract"), ("etl", "r1", "load")]
    assert everything[-1] == ("other", "r1", "only")
    assert listed("etl/dagRuns/~", limit=2, offset=3) == (
        [("etl", "r2", "extract"), ("etl", "r2", "load")],
        6,
    )
    assert listed("~/dagRuns/r1", pool="default_pool")[1] == 3  # load, notify, only
    assert listed("~/dagRuns/~", state="scheduled", pool="db") == (
        [("etl", "r2", "extract")],
        1,
    )
    assert listed("etl/dagRuns/r1", state=["none", "scheduled"])[1] == 3
    bad = api.get("/api/v2/dags/~/dagRuns/~/taskInstances", params={"state": "waiting"})
    assert bad.status_code == 400 and "use none, scheduled" in bad.json()["detail"]
    assert api.get("/api/v2/dags/nope/dagRuns/~/taskInstances").status_code == 404


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


NAMED_DAG = """
import datetime as dt
from taskkit import dag, task

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def named():
    @task(map_index_template="{{ task.task_id }}-{{ ti.map_index }}")
    def visit(city):
        return city

    visit.expand(city=["oslo", "rome"])

named()
"""


def test_task_instances_carry_map_index_and_rendered_map_index(api_sqlite: ApiHome) -> None:
    """Each instance of a mapped task is listed with its map_index and its rendered name."""
    api = api_sqlite
    api.write_dag("named.py", NAMED_DAG)
    api.run_scheduler()  # parses the new file
    made = api.client.post(
        "/api/v2/dags/named/dagRuns", json={"dag_run_id": "r"}, headers=api.token("op")
    )
    assert made.status_code == 200, made.text
    api.run_scheduler()
    listed = api.get("/api/v2/dags/named/dagRuns/r/taskInstances").json()["task_instances"]
    assert [(t["map_index"], t["rendered_map_index"], t["state"]) for t in listed] == [
        (0, "visit-0", "success"),
        (1, "visit-1", "success"),
    ]
