"""Through the scheduler: `@dag` parameters take `--conf` values, the `prev_` dates are filled."""

from __future__ import annotations

import datetime as dt
import json

from cli_harness import Cli

from taskkit.config import load_settings
from taskkit.scheduling.scheduler import Scheduler
from taskkit.states import RunState

CONTEXT_DAG = """
import datetime as dt
import json
from pathlib import Path
from taskkit import BashOperator, Param, dag, task

OUT = Path(__file__).parent

def on_success(context):
    (OUT / f"{context['run_id']}.cb").write_text(
        f"{context['prev_start_date_success']}|{context['prev_execution_date_success']}")

@dag(schedule="@daily", start_date=dt.datetime(2026, 1, 1), end_date=dt.datetime(2026, 1, 2),
     catchup=True, max_active_runs=1, params={"fail": Param(False, type="boolean")},
     on_success_callback=on_success)
def ctx(fail=False, label="default"):
    @task
    def record(fail, label, run_id=None, prev_data_interval_start_success=None,
               prev_data_interval_end_success=None, prev_start_date_success=None,
               prev_end_date_success=None):
        values = [prev_data_interval_start_success, prev_data_interval_end_success,
                  prev_start_date_success, prev_end_date_success]
        (OUT / f"{run_id}.json").write_text(json.dumps(
            {"label": label, "prev": [v.isoformat() if v else None for v in values]}))
        if fail:
            raise RuntimeError("asked to fail")

    record(fail, label) >> BashOperator(
        task_id="templated",
        bash_command="echo '{{ prev_data_interval_start_success }}' > "
        + f"'{OUT}/{{{{ run_id }}}}.txt'",
    )
    record(fail, label) >> BashOperator(
        task_id="airflow_2_dates",
        bash_command="echo '{{ prev_ds }} {{ prev_ds_nodash }} {{ prev_execution_date }} "
        + "{{ prev_execution_date_success }}' > " + f"'{OUT}/{{{{ run_id }}}}.a2'",
    )

ctx()
"""


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def test_parameters_and_previous_success_through_the_scheduler(cli_any_db: Cli) -> None:
    """Two scheduled runs, then a failing and a later triggered one: each try sees the DAG's
    last successful run before its own logical date, and triggered runs their --conf values."""
    cli_any_db.write_dag("ctx.py", CONTEXT_DAG)
    bad = cli_any_db.fails("dags", "trigger", "ctx", "--conf", '{"fail": "yes"}')
    assert "param 'fail'" in bad and "boolean" in bad
    Scheduler(load_settings(), exit_when_idle=True).run()  # the two scheduled runs, in turn
    failing = cli_any_db.ok(
        "dags",
        "trigger",
        "ctx",
        "--conf",
        '{"fail": true, "label": "third"}',
        "--logical-date",
        "2026-03-01T00:00:00",
    ).split()[-1]
    last = cli_any_db.ok(
        "dags",
        "trigger",
        "ctx",
        "--conf",
        '{"label": "fourth"}',
        "--logical-date",
        "2026-04-01T00:00:00",
    ).split()[-1]
    Scheduler(load_settings(), exit_when_idle=True).run()

    store = cli_any_db.store()
    try:
        runs = sorted(store.list_runs("ctx"), key=lambda r: r.logical_date)
        outputs = {
            r.run_id: json.loads((cli_any_db.dags / f"{r.run_id}.json").read_text()) for r in runs
        }
    finally:
        store.dispose()
    first, second, third, fourth = runs
    assert [r.state for r in runs] == [
        RunState.SUCCESS,
        RunState.SUCCESS,
        RunState.FAILED,
        RunState.SUCCESS,
    ]
    assert (third.run_id, fourth.run_id) == (failing, last)
    assert [outputs[r.run_id]["label"] for r in runs] == ["default", "default", "third", "fourth"]
    assert outputs[first.run_id]["prev"] == [None, None, None, None]
    expected = [
        _iso(first.data_interval_start),
        _iso(first.data_interval_end),
        _iso(first.started_at),
        _iso(first.ended_at),
    ]
    assert None not in expected
    assert outputs[second.run_id]["prev"] == expected
    # The failed run is never the previous success: both later runs see the second run.
    after_second = [
        _iso(second.data_interval_start),
        _iso(second.data_interval_end),
        _iso(second.started_at),
        _iso(second.ended_at),
    ]
    assert outputs[third.run_id]["prev"] == after_second
    assert outputs[fourth.run_id]["prev"] == after_second
    rendered = {
        r.run_id: (cli_any_db.dags / f"{r.run_id}.txt").read_text().strip()
        for r in (first, second, fourth)
    }
    assert rendered[first.run_id] == "None"
    # Printed by a template as Airflow 3 prints a datetime (pendulum 3's str(): a space).
    assert rendered[second.run_id] == str(first.data_interval_start)
    assert rendered[fourth.run_id] == str(second.data_interval_start)
    # Airflow 2's: a scheduled run's previous schedule point and the previous success's
    # logical date; a run triggered by hand gets its own logical date as the former.
    airflow_2 = {
        r.run_id: (cli_any_db.dags / f"{r.run_id}.a2").read_text().strip()
        for r in (first, second, fourth)
    }
    assert airflow_2[first.run_id] == "2025-12-31 20251231 2025-12-31 00:00:00+00:00 None"
    assert airflow_2[second.run_id] == (
        f"2026-01-01 20260101 2026-01-01 00:00:00+00:00 {first.logical_date}"
    )
    assert airflow_2[fourth.run_id] == (
        f"2026-04-01 20260401 2026-04-01 00:00:00+00:00 {second.logical_date}"
    )
    # A DAG callback's context has them too.
    assert (cli_any_db.dags / f"{second.run_id}.cb").read_text() == (
        f"{first.started_at}|{first.logical_date}"
    )
