"""Airflow's names from `taskkit` itself, loaded lazily so `import taskkit` stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import taskkit

HEAVY = ("sqlalchemy", "jinja2", "cloudpickle", "jsonschema")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_all_matches_the_export_table_and_dir() -> None:
    """`__all__` lists every exported name exactly once, and `dir(taskkit)` shows them all."""
    assert sorted(taskkit.__all__) == sorted({*taskkit._EXPORTS, "__version__"})
    assert len(taskkit.__all__) == len(set(taskkit.__all__))
    assert set(taskkit.__all__) <= set(dir(taskkit))


def test_every_exported_name_resolves_from_its_module() -> None:
    """Each name in the table imports from `taskkit` and is the object its module defines."""
    for name, module in taskkit._EXPORTS.items():
        if name in taskkit._MODULES:  # a module of its own, such as taskkit.timezone
            assert getattr(taskkit, name) is sys.modules[module]
        else:
            assert getattr(taskkit, name) is getattr(sys.modules[module], name)


def test_the_airflow_authoring_names_that_work_are_exported() -> None:
    """TaskGroup, Label, Param, the skip/fail exceptions… port with a changed import only."""
    from taskkit import (
        AirflowFailException,
        AirflowSkipException,
        Label,
        Param,
        ParamsDict,
        TaskGroup,
        task_group,
    )
    from taskkit.errors import TaskkitError

    assert {Label, Param, ParamsDict, TaskGroup, task_group} <= {
        getattr(taskkit, n) for n in taskkit.__all__ if n != "__version__"
    }
    assert issubclass(AirflowSkipException, TaskkitError)
    assert issubclass(AirflowFailException, TaskkitError)


AIRFLOW_2_FILE = """
from airflow import macros
from airflow.operators.dummy import DummyOperator
from airflow.operators.python import PythonOperator
from airflow.utils.dates import days_ago
from airflow import DAG


def week_later(ds):
    return macros.ds_add(ds, 7)


with DAG("airflow2_names", start_date=days_ago(2), schedule_interval=None) as dag:
    start = DummyOperator(task_id="start")
    later = PythonOperator(
        task_id="later",
        python_callable=week_later,
        op_kwargs={"ds": "{{ ds }}"},
        provide_context=True,
    )
    start >> later
"""


def test_an_airflow_2_file_with_dummy_operator_days_ago_and_macros_ports_by_its_imports() -> None:
    """DummyOperator, days_ago, `from airflow import macros`, schedule_interval and
    provide_context (Airflow 2 names that Airflow 3 removed or moved) work with only the
    imports changed, as docs/airflow.md's guide says."""
    import datetime as dt
    import re

    ported = re.sub(r"from airflow[.\w]* import", "from taskkit import", AIRFLOW_2_FILE)
    namespace: dict[str, object] = {}
    exec(compile(ported, "airflow2_names.py", "exec"), namespace)
    dag = namespace["dag"]
    assert isinstance(dag, taskkit.DAG)
    assert type(dag.task_dict["start"]) is taskkit.EmptyOperator
    result = dag.test(logical_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert result.state == "success"
    assert result.xcom("later") == "2026-01-08"


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A name taskkit does not export fails like any missing attribute."""
    with pytest.raises(AttributeError, match="no attribute 'BranchPythonOperatr'"):
        _ = taskkit.BranchPythonOperatr  # type: ignore[attr-defined]


def test_import_taskkit_loads_nothing_heavy() -> None:
    """`import taskkit` loads no SQLAlchemy, Jinja2, cloudpickle or jsonschema."""
    assert _loaded_after("import taskkit") == []


def test_importing_the_authoring_names_loads_nothing_heavy() -> None:
    """A DAG file's imports (dag, task, TaskGroup, Param, Label…) stay free of heavy modules."""
    names = ", ".join(n for n in taskkit.__all__ if n != "__version__")
    assert _loaded_after(f"from taskkit import {names}") == []
