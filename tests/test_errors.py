"""Airflow's exception names behave in tasks as they do in Airflow."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import (
    DAG,
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    DagRunState,
    RunState,
    State,
    TaskInstanceState,
    task,
)


def test_airflow_exception_fails_the_try_and_is_retried() -> None:
    """`raise AirflowException(...)` in a task fails that try; its retries still apply."""

    @task(retries=1, retry_delay=dt.timedelta(0))
    def flaky() -> None:
        raise AirflowException("upstream API returned 503")

    with DAG("airflow_exc") as d:
        flaky()
    result = d.test()
    assert result.state == "failed"
    assert result.try_number("flaky") == 2
    assert "AirflowException: upstream API returned 503" in result.logs("flaky")


@pytest.mark.parametrize("kind", [AirflowSkipException, AirflowFailException])
def test_except_airflow_exception_catches_its_subclasses(kind: type[Exception]) -> None:
    """As in Airflow, the skip and fail exceptions derive from AirflowException."""
    with pytest.raises(AirflowException):
        raise kind("x")


def test_airflows_state_enum_names_are_taskkits() -> None:
    """TaskInstanceState and DagRunState are State and RunState under Airflow's names."""
    assert TaskInstanceState is State and DagRunState is RunState
    assert TaskInstanceState.UP_FOR_RETRY == "up_for_retry"
    assert DagRunState.SUCCESS == "success"
