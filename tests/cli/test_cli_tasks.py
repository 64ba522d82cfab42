"""`taskkit runs` and `taskkit tasks`: states, why a task waits, logs and one-task tests."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cli_harness import ETL_DAG, FAILING_DAG, Cli

from taskkit.config import load_settings
from taskkit.metastore import Metastore, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.states import RunState, State

T = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def etl_run(cli_sqlite: Cli) -> str:
    """A triggered (queued) run of the etl DAG; returns its run id."""
    cli_sqlite.write_dag("etl.py", ETL_DAG)
    return cli_sqlite.ok("dags", "trigger", "etl", "--run-id", "r1").strip()


def test_runs_list_and_unknown_run(cli_sqlite: Cli, etl_run: str) -> None:
    """`runs list` shows the run; `tasks states` of an unknown run is one line."""
    table = cli_sqlite.ok("runs", "list", "etl")
    assert table.splitlines()[1].split()[:2] == ["r1", "queued"]
    assert "has no run 'nope'" in cli_sqlite.fails("tasks", "states", "etl", "nope")
    assert "extract" in cli_sqlite.ok("tasks", "states", "etl", etl_run)


def test_why_follows_the_task_instance_through_its_states(cli_sqlite: Cli, etl_run: str) -> None:
    """`tasks why` gives one line per situation: queued run, upstream, wait reason, retry, done."""

    def why(task_id: str) -> str:
        out = cli_sqlite.ok("tasks", "why", "etl", etl_run, task_id)
        assert out.count("\n") == 1
        return out.strip()

    def move(task_id: str, **values: object) -> None:
        key = TaskInstanceKey("etl", etl_run, task_id)
        with cli_sqlite.store() as store:
            [applied] = store.transition_task_instances([TIChange(key, set(State), **values)])  # type: ignore[arg-type]
            assert applied

    assert why("load") == "DAG run is queued (max_active_runs reached)"
    with cli_sqlite.store() as store:
        store.set_run_state("etl", etl_run, RunState.RUNNING)
    assert why("load") == "waiting for upstream task(s) extract"
    move("extract", state=State.SCHEDULED, wait_reason="pool 'db' full: 2 of 2 slots used")
    assert why("extract") == "pool 'db' full: 2 of 2 slots used"
    move("extract", state=State.QUEUED, queued_at=T)
    assert why("extract").startswith("queued since 2026-03-01T10:00:00+00:00")
    move("extract", state=State.RUNNING, started_at=T, try_number=1, pid=42, hostname="h")
    assert why("extract") == "running since 2026-03-01T10:00:00+00:00 (pid 42 on h), try 1"
    move("extract", state=State.UP_FOR_RETRY, next_retry_at=T)
    assert why("extract").startswith("waiting for retry until 2026-03-01T10:00:00+00:00")
    move("extract", state=State.SUCCESS)
    assert why("extract") == "finished: success"
    cli_sqlite.ok("dags", "pause", "etl")
    assert why("load").startswith("DAG is paused")
    assert "has no task 'nope'" in cli_sqlite.fails("tasks", "why", "etl", etl_run, "nope")


def test_logs_prints_the_latest_try_or_the_one_asked_for(cli_sqlite: Cli, etl_run: str) -> None:
    """`tasks logs` formats the JSON-lines log of the latest try, or of --try N."""
    folder = cli_sqlite.home / "logs" / "etl" / etl_run / "extract"
    folder.mkdir(parents=True)
    for try_number in (1, 2):
        lines = [
            {"event": "try_started", "timestamp": "t0", "pid": 7},
            {"event": "output", "stream": "stdout", "line": f"hello from try {try_number}"},
        ]
        (folder / f"{try_number}.log").write_text("".join(json.dumps(x) + "\n" for x in lines))
    latest = cli_sqlite.ok("tasks", "logs", "etl", etl_run, "extract")
    assert latest.splitlines() == ["[t0] try_started pid=7", "hello from try 2"]
    first = cli_sqlite.ok("tasks", "logs", "etl", etl_run, "extract", "--try", "1")
    assert "hello from try 1" in first
    assert "tries with logs: 1, 2" in cli_sqlite.fails(
        "tasks", "logs", "etl", etl_run, "extract", "--try", "5"
    )
    assert "No logs for task 'load'" in cli_sqlite.fails("tasks", "logs", "etl", etl_run, "load")


def test_tasks_test_runs_one_task_in_process(cli_sqlite: Cli) -> None:
    """`tasks test` runs a single task, shows its output and value, and fails for a failing one."""
    cli_sqlite.write_dag("etl.py", ETL_DAG)
    cli_sqlite.write_dag("failing.py", FAILING_DAG)
    out = cli_sqlite.ok("tasks", "test", "etl", "extract")
    assert "extracting" in out
    assert "Returned: {'rows': 3}" in out
    assert "Task extract success" in out
    result = cli_sqlite("tasks", "test", "failing", "boom")
    assert result.exit_code == 1
    assert "RuntimeError: kaboom" in result.stdout
    assert "has no task 'nope'" in cli_sqlite.fails("tasks", "test", "etl", "nope")


MAPPED_DAG = """
import datetime as dt
from taskkit import dag, task

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def fan():
    @task
    def echo(x):
        print(f"got {x}")
        return x

    echo.expand(x=["a", "b"])

fan()
"""


def test_states_and_logs_show_each_instance_of_a_mapped_task(cli_sqlite: Cli) -> None:
    """`tasks states -o json` has a map_index per instance; `tasks logs --map-index` reads one."""
    cli_sqlite.write_dag("fan.py", MAPPED_DAG)
    run_id = cli_sqlite.ok("dags", "trigger", "fan").strip()
    before = json.loads(cli_sqlite.ok("tasks", "states", "fan", run_id, "-o", "json"))
    assert [(t["task_id"], t["map_index"], t["state"]) for t in before] == [("echo", -1, "none")]
    cli_sqlite.ok("scheduler", "--exit-when-idle")
    after = json.loads(cli_sqlite.ok("tasks", "states", "fan", run_id, "-o", "json"))
    assert [(t["task_id"], t["map_index"], t["state"]) for t in after] == [
        ("echo", 0, "success"),
        ("echo", 1, "success"),
    ]
    assert "got b" in cli_sqlite.ok("tasks", "logs", "fan", run_id, "echo", "--map-index", "1")
    assert "no logs" in cli_sqlite.fails("tasks", "logs", "fan", run_id, "echo").lower()


def test_states_and_why_give_a_failed_task_its_stored_reason(cli_sqlite: Cli, etl_run: str) -> None:
    """A failed task's reason (its first line) shows in `tasks states` beside its start and end,
    in the JSON, and as `tasks why`'s answer; a retrying one says why its last try failed."""
    key = TaskInstanceKey("etl", etl_run, "extract")
    later = T + dt.timedelta(seconds=5)
    with cli_sqlite.store() as store:
        store.transition_task_instances(
            [
                TIChange(
                    key,
                    set(State),  # type: ignore[arg-type]
                    state=State.UP_FOR_RETRY,
                    try_number=1,
                    started_at=T,
                    ended_at=later,
                    error="TaskTimeoutError: ran longer than 0:00:01\nmore detail",
                )
            ]
        )
    why = cli_sqlite.ok("tasks", "why", "etl", etl_run, "extract").strip()
    assert why.endswith("failed: TaskTimeoutError: ran longer than 0:00:01)")
    with cli_sqlite.store() as store:
        store.transition_task_instances(
            [TIChange(key, set(State), state=State.FAILED, error="pool 'nope' does not exist")]  # type: ignore[arg-type]
        )
    assert cli_sqlite.ok("tasks", "why", "etl", etl_run, "extract").strip() == (
        "finished: failed: pool 'nope' does not exist"
    )
    table = cli_sqlite.ok("tasks", "states", "etl", etl_run).splitlines()
    assert table[0].split()[-3:] == ["start", "end", "reason"]
    [row] = [line for line in table if line.startswith("extract")]
    assert "2026-03-01T10:00:00+00:00" in row and "2026-03-01T10:00:05+00:00" in row
    assert row.endswith("pool 'nope' does not exist")
    rows = json.loads(cli_sqlite.ok("tasks", "states", "etl", etl_run, "-o", "json"))
    [extract] = [r for r in rows if r["task_id"] == "extract"]
    assert extract["error"] == "pool 'nope' does not exist"
    assert extract["started_at"] == "2026-03-01T10:00:00+00:00"


RESIZED_DAG = """
import datetime as dt
import json
from taskkit import dag, get_current_context, task

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def resized():
    @task
    def sizes():
        with open({path!r}) as f:
            return json.load(f)

    @task(map_index_template="item {{{{ label }}}}")
    def work(x):
        get_current_context()["label"] = x
        return x * 10

    @task
    def total(values):
        return sum(values)

    total(work.expand(x=sizes()))

resized()
"""


def test_clearing_the_upstream_expands_the_mapped_task_again(cli_sqlite: Cli) -> None:
    """After `tasks clear --downstream`, a mapped task follows its source's new length: new
    instances run, surplus ones are `removed`; each instance's rendered name is in the JSON."""
    items = cli_sqlite.home / "items.json"
    items.write_text("[1, 2, 3]")
    cli_sqlite.write_dag("resized.py", RESIZED_DAG.format(path=str(items)))
    run_id = cli_sqlite.ok("dags", "trigger", "resized").strip()

    def work_states() -> list[tuple[int, str, str | None]]:
        rows = json.loads(cli_sqlite.ok("tasks", "states", "resized", run_id, "-o", "json"))
        return [
            (t["map_index"], t["state"], t["rendered_map_index"])
            for t in rows
            if t["task_id"] == "work"
        ]

    def clear_sizes_and_rerun() -> None:
        cli_sqlite.ok(
            "tasks", "clear", "resized", "--run-id", run_id,
            "--task-regex", "^sizes$", "--downstream", "--yes",
        )  # fmt: skip
        cli_sqlite.ok("scheduler", "--exit-when-idle")

    cli_sqlite.ok("scheduler", "--exit-when-idle")
    assert work_states() == [(i, "success", f"item {i + 1}") for i in range(3)]

    items.write_text("[5, 6, 7, 8]")
    clear_sizes_and_rerun()
    assert work_states() == [(i, "success", f"item {i + 5}") for i in range(4)]

    items.write_text("[9]")
    clear_sizes_and_rerun()
    assert work_states() == [
        (0, "success", "item 9"),
        (1, "removed", "item 6"),
        (2, "removed", "item 7"),
        (3, "removed", "item 8"),
    ]
    runs = json.loads(cli_sqlite.ok("runs", "list", "resized", "-o", "json"))
    assert [r["state"] for r in runs] == ["success"]
    store = Metastore.open(load_settings().database.sql_alchemy_conn)
    try:
        (total,) = [x for x in store.get_xcoms("resized", run_id) if x.task_id == "total"]
    finally:
        store.dispose()
    assert total.value == b"90"


DEFERRING_DAG = """
import datetime as dt
from taskkit import DAG, BaseOperator, TimeDeltaTrigger


class Waits(BaseOperator):
    def execute(self, context):
        self.defer(trigger=TimeDeltaTrigger(dt.timedelta(milliseconds=50)), method_name="done",
                   kwargs={"label": "batch"})

    def done(self, context, event=None, label=None):
        return f"{label} woke"


with DAG("defers", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    Waits(task_id="wait")
"""


def test_tasks_test_runs_a_deferring_tasks_trigger_and_resumes_it(cli_sqlite: Cli) -> None:
    cli_sqlite.write_dag("defers.py", DEFERRING_DAG)
    out = cli_sqlite.ok("tasks", "test", "defers", "wait")
    assert "deferred to taskkit.triggers.temporal.DateTimeTrigger: running it here" in out
    assert "Returned: 'batch woke'" in out
    assert "Task wait success" in out
