"""Variable.get/set/delete and {{ var.value / var.json }} inside tasks, under DAG.test()."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import DAG, BashOperator, Variable, task
from taskkit.errors import VariableError, VariableNotFoundError

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _one_task_dag(body: Any) -> DAG:
    with DAG("vars", start_date=START, schedule=None) as dag:
        task(body, task_id="t")()
    return dag


def test_get_reads_the_runs_variables_and_decodes_json() -> None:
    """Variable.get returns the text; deserialize_json=True the decoded value."""

    def body() -> Any:
        return [Variable.get("plain"), Variable.get("config", deserialize_json=True)]

    result = _one_task_dag(body).test(variables={"plain": "hello", "config": {"n": 3}})
    assert result.state == "success"
    assert result.xcom("t") == ["hello", {"n": 3}]


def test_a_missing_variable_is_a_key_error_naming_the_key() -> None:
    """Without a default the try fails with a KeyError that names the key and how to set it."""
    with pytest.raises(KeyError) as caught:
        Variable.get("nowhere")
    assert isinstance(caught.value, VariableNotFoundError)
    assert str(caught.value).startswith("Variable 'nowhere' does not exist")
    assert "taskkit variables set nowhere" in str(caught.value)

    result = _one_task_dag(lambda: Variable.get("nowhere")).test()
    assert result.state == "failed"
    assert "Variable 'nowhere' does not exist" in result.logs("t")


def test_default_is_returned_for_a_missing_variable() -> None:
    """default= is returned (as is, not decoded) when the variable does not exist."""
    assert Variable.get("nowhere", default=None) is None
    assert Variable.get("nowhere", default={"a": 1}, deserialize_json=True) == {"a": 1}


def test_airflow_2s_default_var_works_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variable.get(key, default_var=...), Airflow 2's spelling, is the same as default=;
    giving both is one clear error."""
    assert Variable.get("nowhere", default_var="fallback") == "fallback"
    assert Variable.get("nowhere", default_var=None) is None
    monkeypatch.setenv("TASKKIT_VAR_LIMITS", '{"rows": 3}')
    assert Variable.get("limits", default_var={}, deserialize_json=True) == {"rows": 3}
    with pytest.raises(TypeError, match="both default and default_var"):
        Variable.get("nowhere", "a", default_var="b")


def test_the_environment_wins_over_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """TASKKIT_VAR_<KEY> is read before the run's variables, as AIRFLOW_VAR_ in Airflow."""
    monkeypatch.setenv("TASKKIT_VAR_REGION", "eu-west")
    result = _one_task_dag(lambda: Variable.get("region")).test(variables={"region": "us"})
    assert result.xcom("t") == "eu-west"


def test_set_and_delete_inside_a_run_stay_in_that_run() -> None:
    """A task's Variable.set is seen by later tasks of the run, and by no later run."""
    with DAG("writer", start_date=START, schedule=None) as dag:

        @task
        def write() -> None:
            Variable.set("counter", {"n": 1}, serialize_json=True)
            Variable.set("gone", "x")
            assert Variable.delete("gone") is True

        @task
        def read() -> Any:
            return [Variable.get("counter", deserialize_json=True), Variable.get("gone", "none")]

        write() >> read()
    assert dag.test().xcom("read") == [{"n": 1}, "none"]
    again = dag.test(variables={"counter": "old"})
    assert again.state == "success"
    assert Variable.get("counter", default="absent") == "absent"


def test_set_outside_any_store_is_one_clear_error() -> None:
    """Outside a task and a DAG.test() run there is nowhere to write: the error says so."""
    with pytest.raises(VariableError, match="taskkit variables set"):
        Variable.set("k", "v")


def test_a_variable_that_is_not_json_is_a_clear_error() -> None:
    """deserialize_json=True on text that is not JSON names the key and the way out."""
    result = _one_task_dag(lambda: Variable.get("text", deserialize_json=True)).test(
        variables={"text": "not json"}
    )
    assert result.state == "failed"
    assert "Variable 'text' is not valid JSON" in result.logs("t")


def test_templates_read_var_value_and_var_json() -> None:
    """{{ var.value.key }}, {{ var.json.key.field }} and var.value.get() render in fields."""
    with DAG("tpl", start_date=START, schedule=None) as dag:
        BashOperator(
            task_id="echo",
            bash_command="echo {{ var.value.who }} {{ var.json.cfg.size }} "
            "{{ var.value.get('missing', 'fallback') }}",
        )
    result = dag.test(variables={"who": "world", "cfg": {"size": 7}})
    assert result.xcom("echo") == "world 7 fallback"


def test_a_template_naming_a_missing_variable_fails_the_try() -> None:
    """{{ var.value.nope }} fails the try with the missing key named."""
    with DAG("tpl_missing", start_date=START, schedule=None) as dag:
        BashOperator(task_id="echo", bash_command="echo {{ var.value.nope }}")
    result = dag.test()
    assert result.state == "failed"
    assert "Variable 'nope' does not exist" in result.logs("echo")
