"""Param: defaults, JSON-schema validation, DAG and task params, and conf overriding them."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import DAG, EmptyOperator, Param, ParamsDict, ParamValidationError, task
from taskkit.authoring.params import param_values, resolve_params
from taskkit.errors import DagDefinitionError

START = dt.datetime(2026, 1, 1)


def test_resolve_params_merges_task_params_and_conf_over_dag_params() -> None:
    """DAG params, then the task's, then the run's conf: the last one given wins."""
    dag_params = {"a": Param(1, type="integer"), "b": "dag", "c": "dag"}
    values = resolve_params(dag_params, {"a": 5, "extra": True}, {"b": "task", "c": "task"})
    assert values == {"a": 5, "b": "task", "c": "task", "extra": True}


def test_a_value_failing_its_schema_names_the_param_and_the_rule_in_one_line() -> None:
    """A conf value of the wrong type raises ParamValidationError: param, value, rule, one line."""
    with pytest.raises(ParamValidationError) as info:
        resolve_params({"n": Param(3, type="integer", minimum=1)}, {"n": "three"}, dag_id="etl")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("DAG 'etl', param 'n': 'three' is not of type 'integer'")
    assert "schema rule type: 'integer'" in message
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, DagDefinitionError)
    with pytest.raises(ParamValidationError, match=r"Param 'n': 0 is less than the minimum of 1"):
        resolve_params({"n": Param(3, type="integer", minimum=1)}, {"n": 0})


def test_a_task_param_keeps_the_dag_params_schema() -> None:
    """A plain task or conf value for a DAG Param is still checked against the DAG's schema."""
    dag_params = {"mode": Param("fast", enum=["fast", "slow"])}
    assert resolve_params(dag_params, None, {"mode": "slow"}) == {"mode": "slow"}
    with pytest.raises(ParamValidationError, match="'mode': 'medium' is not one of"):
        resolve_params(dag_params, None, {"mode": "medium"})


def test_a_param_without_default_needs_a_value_from_conf() -> None:
    """A Param with no default fails until the conf supplies it, saying how to."""
    params = {"target": Param(type="string", description="where to load")}
    assert resolve_params(params, {"target": "s3"}) == {"target": "s3"}
    with pytest.raises(ParamValidationError, match=r"'target': has no default .*--conf"):
        resolve_params(params, {})


def test_values_must_be_json_serialisable() -> None:
    """A Param default or conf value that JSON cannot hold is rejected where it is given."""
    with pytest.raises(ParamValidationError, match="not JSON-serialisable"):
        Param(object())
    with pytest.raises(ParamValidationError, match=r"DAG 'd', param 'when'.*not JSON-serialis"):
        resolve_params({"when": Param(None)}, {"when": START}, dag_id="d")


def test_params_dict_reads_values_and_keeps_params() -> None:
    """ParamsDict[key] is the value; get_param(key) the Param with its schema."""
    params = ParamsDict({"x": Param(2, "two", type="integer"), "y": "plain"})
    assert params["x"] == 2
    assert dict(params) == {"x": 2, "y": "plain"}
    assert params.get_param("x").description == "two"
    params["x"] = 7
    assert params.get_param("x").schema == {"type": "integer"}
    assert params.validate() == {"x": 7, "y": "plain"}
    assert Param(1, schema={"type": "integer"}) == Param(1, type="integer")


def test_dag_params_become_a_params_dict_with_default_args_params_under_them() -> None:
    """DAG(params=...) holds a ParamsDict; default_args' params fill in what it lacks."""
    with DAG("p_dag", default_args={"params": {"a": 1, "b": 1}}, params={"b": 2}) as d:
        op = EmptyOperator(task_id="t", params={"c": 3})
    assert isinstance(d.params, ParamsDict)
    assert dict(d.params) == {"a": 1, "b": 2}
    assert dict(op.params) == {"a": 1, "b": 1, "c": 3}


def test_a_bad_schema_fails_where_the_dag_is_defined() -> None:
    """A Param whose schema is not valid JSON schema fails at DAG definition, naming it."""
    with pytest.raises(ParamValidationError, match="DAG 'p_bad', param 'n': its schema is not"):
        DAG("p_bad", params={"n": Param(1, type="intger")})


def test_a_scheduled_dag_needs_valid_param_defaults() -> None:
    """As in Airflow, a scheduled DAG's defaults must validate; an unscheduled one may wait."""
    with pytest.raises(ParamValidationError, match="DAG 'p_sched', param 'n'"):
        DAG(
            "p_sched", schedule="@daily", start_date=START, params={"n": Param("x", type="integer")}
        )
    DAG("p_manual", params={"n": Param(type="integer")})


def test_param_values_is_the_unvalidated_fast_path() -> None:
    """param_values merges without validating (the context uses it; triggering validates)."""
    assert param_values({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
    assert param_values(ParamsDict({"a": Param(type="integer")}), None) == {"a": None}


def test_tasks_see_dag_task_and_conf_params() -> None:
    """Under DAG.test(), a task's params are the DAG's, its own over them, and the conf over all."""

    @task
    def read(params: dict[str, object]) -> dict[str, object]:
        return dict(params)

    with DAG("p_run", params={"a": Param(1, type="integer"), "b": "dag"}) as d:
        read.override(task_id="plain")()
        read.override(task_id="own", params={"b": "task"})()
    result = d.test(conf={"a": 9})
    assert result.xcom("plain") == {"a": 9, "b": "dag"}
    assert result.xcom("own") == {"a": 9, "b": "task"}


def test_a_nested_failure_says_where_inside_the_value() -> None:
    """For an object or array Param, the message points at the failing item."""
    schema = {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": {"type": "integer"}}},
    }
    with pytest.raises(ParamValidationError, match=r"at cfg\['rows'\]\[1\]: 'x' is not of type"):
        resolve_params({"cfg": Param({"rows": [1]}, schema=schema)}, {"cfg": {"rows": [1, "x"]}})
