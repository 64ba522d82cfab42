"""ExternalTaskSensor's arguments: which dates it looks at, and bad input.

Waiting on a real run of another DAG is tested under the scheduler and
DAG.test() in tests/scheduling/test_sensors.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import DAG, ExternalTaskMarker, ExternalTaskSensor
from taskkit.errors import InvalidTaskParameterError

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
LOGICAL = dt.datetime(2026, 3, 2, 6, tzinfo=dt.timezone.utc)


def _dates(**arguments: Any) -> list[dt.datetime]:
    with DAG("d", schedule=None, start_date=START):
        sensor = ExternalTaskSensor(task_id="s", external_dag_id="other", **arguments)
    return sensor.logical_dates({"logical_date": LOGICAL, "ds": "2026-03-02"})


def test_the_logical_dates_looked_at() -> None:
    """This run's date by default, minus execution_delta, or what execution_date_fn returns."""
    assert _dates() == [LOGICAL]
    assert _dates(execution_delta=dt.timedelta(hours=6)) == [LOGICAL - dt.timedelta(hours=6)]
    assert _dates(execution_date_fn=lambda d: d.replace(hour=0)) == [LOGICAL.replace(hour=0)]
    assert _dates(execution_date_fn=lambda d, ds: [d, dt.datetime.fromisoformat(ds)]) == [
        LOGICAL,
        dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc),  # a naive date is UTC
    ]


def test_a_date_function_returning_something_else_fails_the_poke() -> None:
    """Not a datetime (or list of them): a TypeError saying what to return."""
    with pytest.raises(TypeError, match="return a datetime or a list of them"):
        _dates(execution_date_fn=lambda d: "yesterday")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"external_task_id": "a", "external_task_ids": ["b"]}, "not both"),
        ({"execution_delta": dt.timedelta(1), "execution_date_fn": lambda d: d}, "not both"),
        ({"external_task_ids": ["a", "a"]}, "names a task twice"),
        ({"allowed_states": ["success"], "failed_states": ["success"]}, "more than once"),
        ({"external_task_id": "a", "allowed_states": ["finished"]}, "'finished' is not a task"),
        ({"allowed_states": ["skipped"]}, "'skipped' is not a run state"),
        ({"external_task_group_id": "g", "external_task_id": "a"}, "not both: a group"),
        ({"external_task_group_id": "g", "external_task_ids": ["a"]}, "not both: a group"),
        ({"external_task_group_id": ""}, "must be a task group id"),
        ({"external_task_group_id": "g", "allowed_states": ["finished"]}, "is not a task state"),
    ],
)
def test_bad_arguments_fail_where_the_dag_is_defined(
    arguments: dict[str, Any], message: str
) -> None:
    """Each is one line naming the task."""
    with DAG("d", schedule=None, start_date=START), pytest.raises(InvalidTaskParameterError) as err:
        ExternalTaskSensor(task_id="s", external_dag_id="other", **arguments)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"external_task_id": ""}, "external_task_id must be a non-empty string"),
        ({"recursion_depth": 0}, "recursion_depth must be >= 1"),
        ({"logical_date": 5}, "logical_date must be a datetime or a string"),
    ],
)
def test_bad_marker_arguments_fail_where_the_dag_is_defined(
    arguments: dict[str, Any], message: str
) -> None:
    """ExternalTaskMarker: each is one line naming the task."""
    given = {"external_dag_id": "other", "external_task_id": "t", **arguments}
    with DAG("d", schedule=None, start_date=START), pytest.raises(InvalidTaskParameterError) as err:
        ExternalTaskMarker(task_id="m", **given)
    assert message in str(err.value)


def test_a_marker_keeps_a_datetime_as_its_iso_string() -> None:
    """A fixed logical_date is stored as the ISO string Airflow stores (a template field)."""
    with DAG("d", schedule=None, start_date=START):
        marker = ExternalTaskMarker(
            task_id="m", external_dag_id="o", external_task_id="t", logical_date=LOGICAL
        )
    assert marker.logical_date == LOGICAL.isoformat()
    assert marker.recursion_depth == 10
