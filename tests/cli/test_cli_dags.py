"""`taskkit dags`: list, import errors, trigger, test, pause/unpause and show."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cli_harness import ETL_DAG, FAILING_DAG, SIMPLE_DAG, Cli


def test_list_parses_the_folder_and_prints_json(cli_any_db: Cli) -> None:
    """`dags list -o json` finds new files and gives one document with the contract's keys."""
    path = cli_any_db.write_dag("etl.py", ETL_DAG)
    result = cli_any_db("dags", "list", "-o", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert {"dag_id", "paused", "schedule", "next_run", "fileloc"} <= set(row)
    assert (row["dag_id"], row["paused"], row["schedule"]) == ("etl", False, "@daily")
    assert row["fileloc"] == str(path)
    table = cli_any_db.ok("dags", "list")
    assert table.splitlines()[0].split() == ["dag_id", "paused", "schedule", "next_run", "fileloc"]
    assert "etl" in table


def test_list_on_an_empty_folder(cli_sqlite: Cli) -> None:
    """An empty folder lists no DAGs: a message as a table, [] as JSON."""
    assert "No DAGs found" in cli_sqlite.ok("dags", "list")
    assert json.loads(cli_sqlite.ok("dags", "list", "-o", "json")) == []


def test_list_import_errors_gives_file_line_and_message(cli_any_db: Cli) -> None:
    """A broken file shows up in `list-import-errors` with file, line and message."""
    path = cli_any_db.write_dag("broken.py", "import taskkit\nraise ValueError('bad config')\n")
    [row] = json.loads(cli_any_db.ok("dags", "list-import-errors", "-o", "json"))
    assert (row["file"], row["line"], row["message"]) == (str(path), 2, "ValueError: bad config")
    assert "ValueError: bad config" in cli_any_db.ok("dags", "list-import-errors")


def test_trigger_parses_the_folder_and_prints_the_run_id(cli_any_db: Cli) -> None:
    """`dags trigger` works before any scheduler ran, prints only the run id, creates the TIs."""
    cli_any_db.write_dag("etl.py", ETL_DAG)
    out = cli_any_db.ok(
        "dags", "trigger", "etl", "--conf", '{"n": 2}', "--logical-date", "2026-03-01T10:00:00"
    )
    assert out == "manual__2026-03-01T10:00:00+00:00\n"
    [run] = json.loads(cli_any_db.ok("runs", "list", "etl", "-o", "json"))
    assert {"run_id", "state", "logical_date", "run_type"} <= set(run)
    assert run["logical_date"] == "2026-03-01T10:00:00+00:00"  # naive means UTC
    assert (run["state"], run["run_type"], run["conf"]) == ("queued", "manual", {"n": 2})
    tis = json.loads(cli_any_db.ok("tasks", "states", "etl", out.strip(), "-o", "json"))
    by_id = {t["task_id"]: t for t in tis}
    assert set(by_id) == {"extract", "load", "notify"}
    assert {"task_id", "state", "try_number", "pool", "pool_slots", "priority_weight"} <= set(
        by_id["extract"]
    )
    assert (by_id["extract"]["pool"], by_id["extract"]["pool_slots"]) == ("db", 2)
    assert by_id["extract"]["priority_weight"] == 9  # 7 + load 1 + notify 1


def test_trigger_default_run_id_and_duplicate_run_id(cli_sqlite: Cli) -> None:
    """Without --run-id the id is manual__<now>; reusing an explicit id is refused."""
    cli_sqlite.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    before = dt.datetime.now(dt.timezone.utc)
    run_id = cli_sqlite.ok("dags", "trigger", "simple").strip()
    assert run_id.startswith("manual__")
    assert dt.datetime.fromisoformat(run_id.removeprefix("manual__")) >= before
    assert cli_sqlite.ok("dags", "trigger", "simple", "--run-id", "mine") == "mine\n"
    line = cli_sqlite.fails("dags", "trigger", "simple", "--run-id", "mine")
    assert "already has a run 'mine'" in line


def test_trigger_rejects_bad_conf_and_dates_as_usage_errors(cli_sqlite: Cli) -> None:
    """--conf must be a JSON object and --logical-date ISO 8601: otherwise exit 2, one line."""
    cli_sqlite.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    assert "not valid JSON" in cli_sqlite.fails("dags", "trigger", "simple", "--conf", "{", code=2)
    line = cli_sqlite.fails("dags", "trigger", "simple", "--conf", "[1, 2]", code=2)
    assert "must be a JSON object" in line
    line = cli_sqlite.fails("dags", "trigger", "simple", "--logical-date", "yesterday", code=2)
    assert "ISO 8601" in line
    assert "No such option" in cli_sqlite.fails("dags", "trigger", "simple", "--nope", code=2)


PARAMS_DAG = """
import datetime as dt
from taskkit import DAG, EmptyOperator, Param

with DAG("params_dag", schedule=None, start_date=dt.datetime(2026, 1, 1),
         params={"rows": Param(10, type="integer", minimum=1)}):
    EmptyOperator(task_id="t")
"""


def test_trigger_validates_conf_against_the_dags_params(cli_sqlite: Cli) -> None:
    """--conf overriding a Param with a bad value is one line naming the param; no run is made."""
    cli_sqlite.write_dag("params_dag.py", PARAMS_DAG)
    line = cli_sqlite.fails("dags", "trigger", "params_dag", "--conf", '{"rows": 0}')
    assert "rows" in line and "minimum" in line
    assert cli_sqlite.ok("dags", "trigger", "params_dag", "--conf", '{"rows": 5}').strip()
    assert len(json.loads(cli_sqlite.ok("runs", "list", "params_dag", "-o", "json"))) == 1


def test_unknown_dag_is_one_line(cli_sqlite: Cli) -> None:
    """An unknown DAG id fails trigger, show, pause and runs list with one clear line."""
    cli_sqlite.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    for args in (
        ("dags", "trigger", "nope"),
        ("dags", "show", "nope"),
        ("dags", "pause", "nope"),
        ("runs", "list", "nope"),
        ("dags", "test", "nope"),
    ):
        assert "No DAG 'nope'" in cli_sqlite.fails(*args), args


def test_a_dag_file_that_fails_to_import_is_one_line_with_file_and_line(cli_sqlite: Cli) -> None:
    """Triggering a DAG whose file is broken names the file, the line and the error."""
    path = cli_sqlite.write_dag("etl.py", "import taskkit\n\nx = 1 +\n")
    line = cli_sqlite.fails("dags", "trigger", "etl")
    assert line.startswith(f"error: {path}:3: SyntaxError: ")
    assert "DAG 'etl' not found" in line


def test_pause_and_unpause(cli_any_db: Cli) -> None:
    """pause and unpause flip the `paused` flag shown by `dags list`."""
    cli_any_db.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    cli_any_db.ok("dags", "list")
    cli_any_db.ok("dags", "pause", "simple")
    [row] = json.loads(cli_any_db.ok("dags", "list", "-o", "json"))
    assert row["paused"] is True
    cli_any_db.ok("dags", "unpause", "simple")
    [row] = json.loads(cli_any_db.ok("dags", "list", "-o", "json", "--no-parse"))
    assert row["paused"] is False


def test_show_prints_the_graph_in_topological_order(cli_sqlite: Cli) -> None:
    """`dags show` lists tasks upstream-first with relatives, pool, slots and priority totals."""
    cli_sqlite.write_dag("etl.py", ETL_DAG)
    out = cli_sqlite.ok("dags", "show", "etl")
    lines = out.splitlines()
    assert lines[0] == "DAG etl: 3 tasks, version 1, schedule @daily"
    assert lines[1].split() == ["extract", "pool=db", "pool_slots=2", "priority_weight_total=9"]
    assert lines[2].split() == ["upstream:", "-"]
    assert lines[3].split() == ["downstream:", "load"]
    assert [line.split()[0] for line in lines[1::3]] == ["extract", "load", "notify"]


def test_dags_test_runs_in_process_and_reports_states(cli_sqlite: Cli) -> None:
    """`dags test` runs the DAG with the metastore's pools and prints each task's state."""
    cli_sqlite.write_dag("etl.py", ETL_DAG)
    cli_sqlite.ok("pools", "set", "db", "2")
    out = cli_sqlite.ok("dags", "test", "etl")
    assert "extracting" in out
    assert "try 1" in out
    assert out.splitlines()[-1].endswith(": success")


def test_dags_test_of_a_failing_dag_exits_1(cli_sqlite: Cli) -> None:
    """A failed test run prints the failure and exits 1."""
    cli_sqlite.write_dag("failing.py", FAILING_DAG)
    result = cli_sqlite("dags", "test", "failing")
    assert result.exit_code == 1
    assert "RuntimeError: kaboom" in result.stdout
    assert result.stdout.splitlines()[-1].endswith(": failed")


def test_dags_test_needs_no_metastore(bare_cli: Cli) -> None:
    """`dags test` works on a home with no database, and does not create one."""
    bare_cli.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    assert bare_cli.ok("dags", "test", "simple").splitlines()[-1].endswith(": success")
    assert not (bare_cli.home / "taskkit.db").exists()


def test_list_says_how_many_files_failed_and_how_to_see_them(cli_sqlite: Cli) -> None:
    """With broken files, `dags list` warns on stderr (count and command); JSON stays clean."""
    cli_sqlite.write_dag("etl.py", ETL_DAG)
    cli_sqlite.write_dag("broken.py", "raise ValueError('bad')\n")
    cli_sqlite.write_dag("also_etl.py", ETL_DAG)  # the same dag_id in a second file
    result = cli_sqlite("dags", "list", "-o", "json")
    assert result.exit_code == 0
    assert [row["dag_id"] for row in json.loads(result.stdout)] == ["etl"]
    assert result.stderr.strip() == (
        "warning: 2 DAG file(s) failed to import; run `taskkit dags list-import-errors` to see why."
    )
    errors = json.loads(cli_sqlite.ok("dags", "list-import-errors", "-o", "json"))
    [duplicate] = [e for e in errors if "Duplicate" in e["message"]]
    assert str(cli_sqlite.dags / "also_etl.py") in duplicate["message"]
    assert str(cli_sqlite.dags / "etl.py") in duplicate["message"]
    clean = cli_sqlite("dags", "list")
    assert "warning: 2 DAG file(s)" in clean.stderr


def test_trigger_of_a_known_dag_never_waits_on_other_files(
    cli_sqlite: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a DAG is stored, `dags trigger` uses it without parsing, so a file that hangs at
    import (with a 600 s parsing timeout) does not hold the command up."""
    import subprocess
    import sys

    cli_sqlite.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    cli_sqlite.ok("dags", "list")
    cli_sqlite.write_dag("hangs.py", "import time\ntime.sleep(10**6)\n")
    monkeypatch.setenv("TASKKIT__SCHEDULER__PARSING_TIMEOUT", "600")
    done = subprocess.run(
        [sys.executable, "-m", "taskkit", "dags", "trigger", "simple", "--run-id", "r1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "r1"


def test_trigger_of_an_events_dag_restricted_to_events_covers_the_latest_event(
    cli_sqlite: Cli,
) -> None:
    """EventsTimetable(restrict_to_events=True): a manual run's data interval is an event."""
    cli_sqlite.write_dag(
        "events.py",
        """
import datetime as dt
from taskkit import DAG, EmptyOperator, EventsTimetable
EVENTS = [dt.datetime(2026, 3, 1, 12), dt.datetime(2026, 3, 8, 12)]
with DAG("events", schedule=EventsTimetable(EVENTS, restrict_to_events=True)):
    EmptyOperator(task_id="t")
""",
    )
    run_id = cli_sqlite.ok("dags", "trigger", "events", "--logical-date", "2026-03-05").strip()
    store = cli_sqlite.store()
    try:
        [run] = store.list_runs("events")
    finally:
        store.dispose()
    assert run.run_id == run_id == "manual__2026-03-05T00:00:00+00:00"
    event = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    assert (run.data_interval_start, run.data_interval_end) == (event, event)


def test_trigger_gives_the_data_interval_airflow_infers_for_the_schedule(cli_sqlite: Cli) -> None:
    """A manual run of a cron data-interval DAG covers the last complete interval; a
    trigger timetable's covers its `interval` before the logical date."""
    cli_sqlite.write_dag(
        "intervals.py",
        """
import datetime as dt
from taskkit import DAG, CronDataIntervalTimetable, DeltaTriggerTimetable, EmptyOperator
with DAG("daily", schedule=CronDataIntervalTimetable("0 0 * * *")):
    EmptyOperator(task_id="t")
with DAG("hourly", schedule=DeltaTriggerTimetable(dt.timedelta(hours=1),
                                                  interval=dt.timedelta(minutes=30))):
    EmptyOperator(task_id="t")
""",
    )
    for dag_id in ("daily", "hourly"):
        cli_sqlite.ok("dags", "trigger", dag_id, "--logical-date", "2026-03-25T01:00:00")
    store = cli_sqlite.store()
    try:
        runs = [*store.list_runs("daily"), *store.list_runs("hourly")]
    finally:
        store.dispose()

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.timezone.utc)

    assert [(r.data_interval_start, r.data_interval_end) for r in runs] == [
        (at(24, 0), at(25, 0)),
        (at(25, 0, 30), at(25, 1)),
    ]
