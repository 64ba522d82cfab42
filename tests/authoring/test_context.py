"""The run context: what task functions, templates and get_current_context() see."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import get_current_context
from taskkit.authoring.context import DagRunInfo, base_context
from taskkit.errors import TaskkitError

DATE = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)


def test_base_context_holds_dates_in_airflow_formats() -> None:
    """ds, ds_nodash, ts and ts_nodash are derived from the logical date."""
    context = base_context(DagRunInfo("d", "r", DATE, {}), {})
    assert context["ds"] == "2026-05-06"
    assert context["ds_nodash"] == "20260506"
    assert context["ts"] == DATE.isoformat()
    assert context["ts_nodash"] == "20260506T070809"
    assert context["run_id"] == "r"
    assert context["dag_run"].run_id == "r"


def test_conf_overrides_params_and_adds_its_other_keys() -> None:
    """A run's conf replaces declared params and adds the rest, as Airflow's params do."""
    context = base_context(DagRunInfo("d", "r", DATE, {"x": 2, "extra": 3}), {"x": 1, "y": 1})
    assert context["params"] == {"x": 2, "y": 1, "extra": 3}
    assert context["conf"] == {"x": 2, "extra": 3}


def test_get_current_context_outside_a_task_explains_where_to_call_it() -> None:
    """Calling get_current_context() outside a running task raises a TaskkitError."""
    with pytest.raises(TaskkitError, match="outside a running task"):
        get_current_context()
