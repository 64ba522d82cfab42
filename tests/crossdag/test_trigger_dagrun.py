"""TriggerDagRunOperator's arguments and what it makes of its rendered fields.

Triggering and waiting for real runs is tested under the scheduler and
DAG.test() in tests/scheduling/test_cross_dag.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import DAG, TriggerDagRunOperator
from taskkit.crossdag.trigger_dagrun import _conf, _logical_date
from taskkit.errors import InvalidTaskParameterError

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"trigger_dag_id": ""}, "trigger_dag_id must be a DAG id"),
        ({"allowed_states": ["done"]}, "'done' is not a run state"),
        ({"logical_date": 20260101}, "logical_date must be a datetime"),
        ({"reset_dag_run": "yes"}, "reset_dag_run must be True or False"),
        ({"poke_interval": -1}, "poke_interval must not be negative"),
    ],
)
def test_bad_arguments_fail_where_the_dag_is_defined(
    arguments: dict[str, Any], message: str
) -> None:
    """Each is one line naming the DAG and the task."""
    given = {"trigger_dag_id": "other", **arguments}
    with DAG("d", schedule=None, start_date=START), pytest.raises(InvalidTaskParameterError) as err:
        TriggerDagRunOperator(task_id="t", **given)
    assert str(err.value).startswith("DAG 'd', task 't': ")
    assert message in str(err.value)


def test_a_state_both_allowed_and_failed_fails_the_task_as_in_airflow_with_a_warning() -> None:
    """Airflow's own example DAG allows "failed" and keeps the default failed_states: it loads,
    failed_states wins when the run ends, and the DAG says so."""
    with DAG("d", schedule=None, start_date=START) as dag:
        task = TriggerDagRunOperator(
            task_id="t", trigger_dag_id="other", allowed_states=["success", "failed"]
        )
    assert task.failed_states == ["failed"]
    (warning,) = dag.warnings
    assert warning.startswith("DAG 'd', task 't': failed is in both allowed_states and")
    assert "failed_states wins" in warning


def test_templated_fields_are_airflows() -> None:
    """The same fields render as in Airflow, so a ported DAG's templates keep working."""
    assert TriggerDagRunOperator.template_fields == (
        "trigger_dag_id",
        "trigger_run_id",
        "logical_date",
        "conf",
        "wait_for_completion",
        "skip_when_already_exists",
    )


def test_rendered_logical_dates_and_confs() -> None:
    """An ISO string (naive means UTC) or a datetime; a conf as a dict or a JSON string."""
    assert _logical_date("2026-03-01T06:00:00") == dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC)
    assert _logical_date(START) == START
    assert _conf('{"a": 1}') == {"a": 1}
    assert _conf(None) == {}
    with pytest.raises(ValueError, match="not an ISO date-time"):
        _logical_date("tomorrow")
    with pytest.raises(ValueError, match="conf is not valid JSON"):
        _conf("{a: 1}")
    with pytest.raises(TypeError, match="must be a JSON object"):
        _conf("[1, 2]")
    with pytest.raises(TypeError, match="JSON-serializable"):
        _conf({"when": START})


def test_deferrable_is_an_argument_of_its_own_not_a_warning() -> None:
    """deferrable=True waits in the triggerer (tests/scheduling/test_deferrable_sensors.py)."""
    with DAG("d", schedule=None, start_date=START) as dag:
        operator = TriggerDagRunOperator(
            task_id="t", trigger_dag_id="other", wait_for_completion=True, deferrable=True
        )
    assert dag.warnings == []
    assert operator.deferrable is True
    with pytest.raises(InvalidTaskParameterError, match="deferrable"):
        TriggerDagRunOperator(task_id="u", trigger_dag_id="other", deferrable="yes", dag=dag)
