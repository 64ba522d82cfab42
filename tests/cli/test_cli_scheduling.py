"""`dags backfill`, `tasks clear` and `dags list`'s next run, with a real scheduler."""

from __future__ import annotations

import datetime as dt
import itertools
import json

from cli_harness import Cli

from taskkit.config import load_settings
from taskkit.scheduling.scheduler import Scheduler
from taskkit.states import RunState, RunType, State

UTC = dt.timezone.utc

DAILY_DAG = """
import datetime as dt
from zoneinfo import ZoneInfo
from taskkit import DAG, EmptyOperator

with DAG("daily", schedule="@daily", catchup=False, max_active_runs=4,
         start_date=dt.datetime(2026, 1, 1, tzinfo=ZoneInfo("America/New_York"))):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""

FLAKY_DAG = """
import datetime as dt
from pathlib import Path
from taskkit import dag, task

MARKER = Path(__file__).with_suffix(".ran")

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), default_args={"retries": 1,
     "retry_delay": dt.timedelta(0)})
def flaky():
    @task
    def extract():
        return 1

    @task
    def transform(value):
        count = int(MARKER.read_text()) if MARKER.exists() else 0
        MARKER.write_text(str(count + 1))
        if count < 2:
            raise RuntimeError("fails on the first two tries")
        return value + 1

    @task
    def load(value):
        return value * 10

    load(transform(extract()))

flaky()
"""


def _schedule() -> None:
    Scheduler(load_settings(), exit_when_idle=True).run()


def test_dags_list_shows_the_next_run_right_after_a_parse(cli_any_db: Cli) -> None:
    """Without any scheduler, `dags list -o json` shows schedule, paused and the next run."""
    cli_any_db.write_dag("daily.py", DAILY_DAG.replace("catchup=False", "catchup=True"))
    [row] = json.loads(cli_any_db.ok("dags", "list", "-o", "json"))
    assert (row["schedule"], row["paused"]) == ("@daily", False)
    assert row["next_run"] == "2026-01-01T05:00:00+00:00"  # midnight in New York
    assert row["next_run_after"] == "2026-01-02T05:00:00+00:00"


def test_backfill_creates_runs_refuses_duplicates_and_resets(cli_any_db: Cli) -> None:
    """Backfill makes one run per interval, skips existing ones, and --reset reruns them."""
    cli_any_db.write_dag("daily.py", DAILY_DAG)
    out = cli_any_db.ok(
        "dags",
        "backfill",
        "daily",
        "--start-date",
        "2026-01-02",
        "--end-date",
        "2026-01-04",
        "--max-active-runs",
        "1",
    )
    ids = [f"backfill__2026-01-0{d}T05:00:00+00:00" for d in (2, 3, 4)]
    assert out.split() == [w for i in ids for w in ("created", i)]
    again = cli_any_db.ok(
        "dags", "backfill", "daily", "--start-date", "2026-01-01", "--end-date", "2026-01-03"
    )
    assert "created backfill__2026-01-01T05:00:00+00:00" in again
    assert "skipped 2 interval(s)" in again
    _schedule()
    store = cli_any_db.store()
    try:
        everything = store.list_runs("daily")
        runs = {r.run_id: r for r in everything if r.run_type is RunType.BACKFILL}
        assert set(runs) == {*ids, "backfill__2026-01-01T05:00:00+00:00"}
        # catchup=False: the scheduler adds only the latest interval, not the backfilled ones
        assert [r.run_type for r in everything].count(RunType.SCHEDULED) == 1
        assert all(r.state is RunState.SUCCESS for r in runs.values())
        first = runs[ids[0]]
        assert first.data_interval_end == dt.datetime(2026, 1, 3, 5, tzinfo=UTC)
        capped = sorted((runs[i] for i in ids), key=lambda r: r.logical_date)
        for earlier, later in itertools.pairwise(capped):
            assert earlier.ended_at is not None and later.started_at is not None
            assert earlier.ended_at <= later.started_at  # --max-active-runs 1
        reset = cli_any_db.ok(
            "dags",
            "backfill",
            "daily",
            "--start-date",
            "2026-01-02T05:00:00+00:00",
            "--end-date",
            "2026-01-02T05:00:00+00:00",
            "--reset",
        )
        assert reset.strip() == "reset the run at 2026-01-02T05:00:00+00:00"
        assert store.get_run("daily", ids[0]).state is RunState.QUEUED
        _schedule()
        assert store.get_run("daily", ids[0]).state is RunState.SUCCESS
        assert {ti.try_number for ti in store.list_task_instances("daily", ids[0])} == {2}
    finally:
        store.dispose()


def test_backfill_rejects_bad_ranges(cli_sqlite: Cli) -> None:
    """An end before the start, a bad date or a DAG without schedule is one clear error."""
    cli_sqlite.write_dag("daily.py", DAILY_DAG)
    cli_sqlite.write_dag("manual.py", FLAKY_DAG)
    result = cli_sqlite(
        "dags", "backfill", "daily", "--start-date", "2026-01-05", "--end-date", "2026-01-01"
    )
    assert result.exit_code == 2 and "is before --start-date" in result.output
    result = cli_sqlite("dags", "backfill", "daily", "--start-date", "x", "--end-date", "y")
    assert result.exit_code == 2 and "not an ISO 8601 date" in result.output
    message = cli_sqlite.fails(
        "dags", "backfill", "flaky", "--start-date", "2026-01-01", "--end-date", "2026-01-02"
    )
    assert "no schedule" in message


def test_clear_reruns_failed_part_of_a_run_as_new_tries(cli_any_db: Cli) -> None:
    """Clearing a failed task and its downstream reruns them with their retries again."""
    cli_any_db.write_dag("flaky.py", FLAKY_DAG)
    run_id = cli_any_db.ok("dags", "trigger", "flaky", "--run-id", "r1").strip()
    _schedule()
    store = cli_any_db.store()
    try:
        assert store.get_run("flaky", run_id).state is RunState.FAILED
        before = {ti.task_id: ti for ti in store.list_task_instances("flaky", run_id)}
        assert (before["transform"].state, before["transform"].try_number) == (State.FAILED, 2)
        assert before["load"].state is State.UPSTREAM_FAILED
        out = cli_any_db.ok(
            "tasks",
            "clear",
            "flaky",
            "--run-id",
            run_id,
            "--task-regex",
            "^trans",
            "--downstream",
            "--yes",
        )
        assert "Cleared 2 task instance(s)" in out
        cleared = {ti.task_id: ti for ti in store.list_task_instances("flaky", run_id)}
        assert cleared["transform"].state is State.NONE
        assert (cleared["transform"].try_number, cleared["transform"].max_tries) == (2, 4)
        assert cleared["extract"].state is State.SUCCESS
        assert store.get_run("flaky", run_id).state is RunState.QUEUED
        _schedule()
        after = {ti.task_id: ti for ti in store.list_task_instances("flaky", run_id)}
        assert store.get_run("flaky", run_id).state is RunState.SUCCESS
        assert (after["transform"].try_number, after["extract"].try_number) == (3, 1)
        load = next(x for x in store.get_xcoms("flaky", run_id) if x.task_id == "load")
        assert load is not None
    finally:
        store.dispose()


def test_clear_refuses_unknown_tasks_and_asks_first(cli_sqlite: Cli) -> None:
    """A regex matching nothing is an error; without --yes the user is asked and may decline."""
    cli_sqlite.write_dag("flaky.py", FLAKY_DAG)
    run_id = cli_sqlite.ok("dags", "trigger", "flaky").strip()
    message = cli_sqlite.fails("tasks", "clear", "flaky", "--run-id", run_id, "--task-regex", "zz")
    assert "No task of DAG 'flaky' matches 'zz'" in message
    declined = cli_sqlite("tasks", "clear", "flaky", "--run-id", run_id, input="n\n")
    assert declined.exit_code == 1 and "Clear 3 task instance(s)" in declined.output
    assert cli_sqlite.fails("tasks", "clear", "flaky", "--run-id", "nope", "--yes")


def test_backfill_of_a_trigger_timetable_creates_one_run_per_point(cli_sqlite: Cli) -> None:
    """A CronTriggerTimetable backfill: each point in the range, its interval before it."""
    cli_sqlite.write_dag(
        "trigger.py",
        """
import datetime as dt
from taskkit import DAG, CronTriggerTimetable, EmptyOperator
table = CronTriggerTimetable("0 6 * * *", timezone="UTC", interval=dt.timedelta(hours=6))
with DAG("trigger", schedule=table, start_date=dt.datetime(2026, 1, 1)):
    EmptyOperator(task_id="t")
""",
    )
    out = cli_sqlite.ok(
        "dags", "backfill", "trigger", "--start-date", "2026-01-02", "--end-date", "2026-01-03"
    )
    assert out.split() == ["created", "backfill__2026-01-02T00:00:00+00:00"]
    store = cli_sqlite.store()
    try:
        [run] = store.list_runs("trigger")
    finally:
        store.dispose()
    assert (run.data_interval_start, run.data_interval_end) == (
        dt.datetime(2026, 1, 2, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 6, tzinfo=UTC),
    )
