"""The built-in operators run their work and report values, skips and failures."""

from __future__ import annotations

import datetime as dt

from taskkit import DAG, BashOperator, EmptyOperator, PythonOperator
from taskkit.states import State

DATE = dt.datetime(2026, 3, 4, tzinfo=dt.timezone.utc)


def test_python_operator_passes_args_kwargs_and_returns_the_xcom() -> None:
    """PythonOperator calls the callable with op_args and op_kwargs; its return is the XCom."""
    with DAG("py") as d:
        PythonOperator(
            task_id="add", python_callable=lambda x, y: x + y, op_args=[2], op_kwargs={"y": 3}
        )
    assert d.test().xcom("add") == 5


def test_python_operator_renders_templates_in_its_arguments() -> None:
    """Strings in op_args and op_kwargs are Jinja templates rendered against the context."""
    with DAG("py_tpl") as d:
        PythonOperator(
            task_id="echo",
            python_callable=lambda a, b: f"{a}|{b}",
            op_args=["{{ ds }}"],
            op_kwargs={"b": "{{ ti.try_number }}"},
        )
    assert d.test(logical_date=DATE).xcom("echo") == "2026-03-04|1"


def test_python_operator_passes_context_values_the_callable_names() -> None:
    """A callable naming `params` or taking **kwargs receives context values."""
    with DAG("py_ctx", params={"n": 4}) as d:
        PythonOperator(task_id="named", python_callable=lambda params: params["n"])
        PythonOperator(task_id="all", python_callable=lambda **kw: kw["ds"])
    result = d.test(logical_date=DATE)
    assert result.xcom("named") == 4
    assert result.xcom("all") == "2026-03-04"


def test_bash_operator_returns_the_last_line_and_logs_all_output() -> None:
    """BashOperator's XCom is its last stdout line; every line is in the log."""
    with DAG("bash") as d:
        BashOperator(task_id="say", bash_command="echo one; echo two")
    result = d.test()
    assert result.xcom("say") == "two"
    assert "one\ntwo\n" in result.logs("say")


def test_bash_operator_fails_on_a_non_zero_exit() -> None:
    """A non-zero exit code fails the try with the code in the log."""
    with DAG("bash_fail") as d:
        BashOperator(task_id="boom", bash_command="exit 3")
    result = d.test()
    assert result.task_states["boom"] == State.FAILED
    assert "exit code 3" in result.logs("boom")


def test_bash_operator_skips_on_exit_code_99() -> None:
    """Exit code 99 marks the task skipped, as in Airflow."""
    with DAG("bash_skip") as d:
        BashOperator(task_id="skip", bash_command="exit 99")
    assert d.test().task_states["skip"] == State.SKIPPED


def test_bash_operator_uses_env_and_cwd(tmp_path: object) -> None:
    """`env` replaces the environment and `cwd` sets the working directory, both templated."""
    with DAG("bash_env") as d:
        BashOperator(
            task_id="env",
            bash_command="echo $GREETING-$(pwd)",
            env={"GREETING": "hi {{ ds }}"},
            cwd="/",
        )
    assert d.test(logical_date=DATE).xcom("env") == "hi 2026-03-04-/"


def test_empty_operator_succeeds_with_no_value() -> None:
    """EmptyOperator succeeds and pushes nothing."""
    with DAG("empty") as d:
        EmptyOperator(task_id="nothing")
    result = d.test()
    assert result.task_states["nothing"] == State.SUCCESS
    assert result.xcom("nothing") is None


def test_rendering_leaves_the_operator_itself_unchanged() -> None:
    """After a run, the operator still holds its template, ready for the next run."""
    with DAG("reusable") as d:
        op = BashOperator(task_id="t", bash_command="echo {{ ds }}")
    d.test(logical_date=DATE)
    assert op.bash_command == "echo {{ ds }}"


def test_bash_operator_past_its_timeout_fails_and_stops_the_command() -> None:
    """A bash command running past execution_timeout fails the try and is killed."""
    with DAG("bash_timeout") as d:
        BashOperator(
            task_id="slow",
            bash_command="echo started; exec sleep 30",
            execution_timeout=dt.timedelta(milliseconds=200),
        )
    result = d.test()
    assert result.task_states["slow"] == State.FAILED
    assert "TaskTimeoutError" in result.logs("slow")
