"""run_try, the one way a try runs: outputs, callbacks and what a failing try keeps."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from taskkit import DAG, PythonOperator, dag, task
from taskkit.errors import AirflowSkipException
from taskkit.execution.base import PreviousSuccess
from taskkit.execution.runtime import decode_xcom, run_try
from taskkit.execution.workload import Workload
from taskkit.model.keys import TaskInstanceKey
from taskkit.states import State


def test_multiple_outputs_pushes_each_key_and_is_inferred_from_a_dict_annotation() -> None:
    """A task annotated `-> dict[...]` pushes each key; XComArg["key"] passes one of them."""

    @dag
    def outputs() -> None:
        @task
        def split() -> dict[str, int]:
            return {"a": 1, "b": 2}

        @task
        def use(b: int) -> int:
            return b * 10

        use(split()["b"])

    result = outputs().test()
    assert (result.xcom("split", key="a"), result.xcom("use")) == (1, 20)
    assert result.xcom("split") == {"a": 1, "b": 2}


def test_multiple_outputs_with_a_non_dict_fails_the_try_with_the_fix() -> None:
    """multiple_outputs=True and a list returned: the try fails saying what to return."""
    with DAG("bad_outputs") as d:
        PythonOperator(task_id="t", python_callable=lambda: [1], multiple_outputs=True)
    result = d.test()
    assert result.task_states["t"] is State.FAILED
    assert "return a dict with str keys" in result.logs("t")


def test_do_xcom_push_false_keeps_the_return_value_out_of_xcom() -> None:
    """do_xcom_push=False: the task succeeds and stores nothing."""
    with DAG("no_push") as d:
        PythonOperator(task_id="t", python_callable=lambda: 5, do_xcom_push=False)
    assert d.test().xcom("t") is None


def test_each_outcome_calls_its_callbacks_with_the_context() -> None:
    """execute, retry, failure, success and skipped callbacks fire as in Airflow, lists too."""
    calls: list[tuple[str, str, int]] = []

    def note(kind: str) -> Any:
        return lambda context: calls.append((kind, context["ti"].task_id, context["try_number"]))

    def flaky(ti: Any) -> None:
        if ti.try_number == 1:
            raise RuntimeError("first try fails")

    def skip() -> None:
        raise AirflowSkipException

    callbacks = {
        "on_execute_callback": note("execute"),
        "on_retry_callback": note("retry"),
        "on_failure_callback": [note("failure"), note("failure2")],
        "on_success_callback": note("success"),
        "on_skipped_callback": note("skipped"),
    }
    with DAG("callbacks", default_args={"retry_delay": 0, **callbacks}) as d:
        PythonOperator(task_id="flaky", python_callable=flaky, retries=1)
        PythonOperator(task_id="skip", python_callable=skip)
        PythonOperator(task_id="fails", python_callable=lambda: 1 / 0)
    d.test()
    assert sorted(calls) == sorted(
        [
            ("execute", "flaky", 1),
            ("retry", "flaky", 1),
            ("execute", "flaky", 2),
            ("success", "flaky", 2),
            ("execute", "skip", 1),
            ("skipped", "skip", 1),
            ("execute", "fails", 1),
            ("failure", "fails", 1),
            ("failure2", "fails", 1),
        ]
    )


def test_a_raising_or_hanging_callback_is_logged_and_changes_nothing() -> None:
    """A callback that raises, or hangs past execution_timeout, is in the log; the task succeeds."""

    def raises(context: Any) -> None:
        raise ValueError("callback bug")

    def hangs(context: Any) -> None:
        time.sleep(60)

    with DAG("bad_callbacks") as d:
        PythonOperator(
            task_id="t",
            python_callable=lambda: 1,
            on_success_callback=[raises, hangs],
            execution_timeout=dt.timedelta(seconds=0.3),
        )
    result = d.test()
    assert result.task_states["t"] is State.SUCCESS
    logs = result.logs("t")
    assert "on_success_callback raises failed" in logs and "ValueError: callback bug" in logs
    assert "on_success_callback hangs failed" in logs and "execution_timeout" in logs


def test_a_workloads_previous_success_fills_the_prev_success_context_values() -> None:
    """run_try gives a try the previous successful run's interval, dates and logical date, and
    the schedule's previous point, from its workload; DAG.test() has no previous run, so
    there they are None."""
    names = (
        "prev_data_interval_start_success",
        "prev_data_interval_end_success",
        "prev_start_date_success",
        "prev_end_date_success",
        "prev_execution_date_success",
        "prev_execution_date",
    )
    with DAG("prev") as d:
        PythonOperator(
            task_id="t",
            python_callable=lambda **context: [str(context[name]) for name in names],
        )
    day = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    previous = PreviousSuccess(
        day, day + dt.timedelta(days=1), day, day + dt.timedelta(hours=1), logical_date=day
    )
    workload = Workload(
        key=TaskInstanceKey("prev", "r", "t"),
        try_number=1,
        max_tries=1,
        dag_version_id=0,
        logical_date=day + dt.timedelta(days=2),
        conf={},
        run_type="scheduled",
        log_path="",
        data_interval_start=day + dt.timedelta(days=2),
        data_interval_end=day + dt.timedelta(days=3),
        previous_success=previous,
        previous_point=day + dt.timedelta(days=1),
    )
    value = decode_xcom(run_try(d, workload).xcoms["return_value"])
    assert value == [
        str(day),
        str(day + dt.timedelta(days=1)),
        str(day),
        str(day + dt.timedelta(hours=1)),
        str(day),
        str(day + dt.timedelta(days=1)),
    ]
    assert d.test().xcom("t") == ["None"] * 6
