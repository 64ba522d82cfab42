"""The public API of DESIGN.md A1 is importable, and `import taskkit` stays light."""

from __future__ import annotations

import subprocess
import sys

import taskkit

A1_NAMES = [
    "dag",
    "task",
    "DAG",
    "BashOperator",
    "PythonOperator",
    "EmptyOperator",
    "BaseOperator",
    "chain",
    "cross_downstream",
    "WeightRule",
    "TriggerRule",
    "State",
    "get_current_context",
]


def test_every_a1_name_is_exported() -> None:
    """Each name of DESIGN.md A1 is in taskkit.__all__ and importable."""
    for name in A1_NAMES:
        assert name in taskkit.__all__
        assert getattr(taskkit, name) is not None


def test_states_are_str_enums() -> None:
    """State members compare equal to their names, e.g. State.SUCCESS == "success"."""
    assert taskkit.State.SUCCESS == "success"
    assert {s.value for s in taskkit.State} == {
        "none",
        "scheduled",
        "queued",
        "running",
        "success",
        "failed",
        "up_for_retry",
        "up_for_reschedule",
        "deferred",
        "upstream_failed",
        "skipped",
        "removed",
    }
    assert len(taskkit.TriggerRule) == 13  # all of Airflow 3's


def test_importing_taskkit_loads_no_heavy_dependencies() -> None:
    """`import taskkit` does not import SQLAlchemy, Jinja2 or cloudpickle."""
    code = (
        "import sys, taskkit\n"
        "print(','.join(m for m in ('sqlalchemy', 'jinja2', 'cloudpickle') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_testing_an_unscheduled_dag_loads_no_schedule_or_value_libraries() -> None:
    """A first DAG.test() of a DAG without a schedule or exotic XComs stays cheap to start:
    no croniter/dateutil (cron schedules only), no decimal or uuid (such XComs only), no
    cloudpickle or pickle (pickled XComs only)."""
    code = (
        "import sys, datetime as dt\n"
        "from taskkit import DAG, task\n"
        "@task\n"
        "def hello():\n"
        "    return {'greeting': 'hi', 'when': dt.date(2026, 1, 1)}\n"
        "with DAG('cold', start_date=dt.datetime(2026, 1, 1)) as dag:\n"
        "    hello()\n"
        "assert dag.test().state == 'success'\n"
        "heavy = ('croniter', 'dateutil', 'decimal', 'uuid', 'cloudpickle', 'pickle',\n"
        "         'sqlalchemy')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
