"""A `@dag` function's parameters become DAG params, resolved to each run's value."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import BashOperator, Param, ParamValidationError, PythonOperator, dag, task
from taskkit.authoring.params import DagParam
from taskkit.errors import DagDefinitionError

START = dt.datetime(2026, 1, 1)


@task
def echo(value: object) -> object:
    return value


@dag(params={"y": Param(5, type="integer", minimum=1), "z": "declared"})
def pipeline(x: str = "echo one", y: int = 2, *, k: str = "kw") -> None:
    echo.override(task_id="x_value")(x)
    echo.override(task_id="both")({"x": x, "y": [y]})
    echo.override(task_id="k_value")(k)
    BashOperator(task_id="templated", bash_command="echo {{ params.x }}-{{ params.y }}")
    BashOperator(task_id="command", bash_command=x)
    PythonOperator(task_id="op_kwargs", python_callable=lambda v: v, op_kwargs={"v": y})


def test_parameters_become_params_with_their_defaults_over_declared_ones() -> None:
    """Each parameter is a param; its default replaces a declared value, keeping the schema."""
    params = pipeline().params
    assert params.dump() == {"y": 2, "z": "declared", "x": "echo one", "k": "kw"}
    assert params.get_param("y").schema == {"type": "integer", "minimum": 1}


def test_tasks_and_templates_get_the_defaults_without_conf() -> None:
    """Without conf, task arguments, operator fields and `params` templates see the defaults."""
    result = pipeline().test()
    assert result.state == "success"
    assert result.xcom("x_value") == "echo one"
    assert result.xcom("both") == {"x": "echo one", "y": [2]}
    assert result.xcom("k_value") == "kw"
    assert result.xcom("templated") == "echo one-2"
    assert result.xcom("command") == "one"
    assert result.xcom("op_kwargs") == 2


def test_conf_overrides_what_every_reference_resolves_to() -> None:
    """The run's conf replaces the parameters' values wherever they were passed."""
    result = pipeline().test(conf={"x": "echo hi", "y": 7})
    assert result.state == "success"
    assert result.xcom("x_value") == "echo hi"
    assert result.xcom("both") == {"x": "echo hi", "y": [7]}
    assert result.xcom("templated") == "echo hi-7"
    assert result.xcom("command") == "hi"
    assert result.xcom("op_kwargs") == 7


def test_a_bad_conf_value_is_one_line_naming_the_param() -> None:
    """A conf value failing the declared schema fails before anything runs, in one line."""
    with pytest.raises(ParamValidationError) as info:
        pipeline().test(conf={"y": 0})
    assert str(info.value).startswith("DAG 'pipeline', param 'y': 0 is less than the minimum")
    assert "\n" not in str(info.value)


def test_calling_the_function_with_an_argument_sets_that_params_default() -> None:
    """`pipeline(x=...)` builds a DAG whose param x defaults to that value."""
    built = pipeline("echo two", k="other")
    assert built.params["x"] == "echo two"
    assert built.test().xcom("k_value") == "other"


def test_a_parameter_without_default_takes_the_declared_param() -> None:
    """A parameter with no default reads its value from params=; neither is one clear line."""

    @dag(params={"rows": Param(3, type="integer")})
    def declared(rows):  # type: ignore[no-untyped-def]
        echo(rows)

    assert declared().test(conf={"rows": 4}).xcom("echo") == 4

    @dag
    def undeclared(rows):  # type: ignore[no-untyped-def]
        echo(rows)

    with pytest.raises(ParamValidationError, match=r"param 'rows': .* has no default") as info:
        undeclared()
    assert "\n" not in str(info.value)


def test_a_scheduled_dags_parameter_default_must_match_its_schema() -> None:
    """As for declared params, a scheduled DAG's defaults are validated when it is built."""

    @dag(schedule="@daily", start_date=START, params={"n": Param(1, minimum=1)})
    def nightly(n: int = 0) -> None:
        echo(n)

    with pytest.raises(ParamValidationError, match="DAG 'nightly', param 'n': 0 is less"):
        nightly()


def test_a_value_json_cannot_hold_is_refused_at_definition() -> None:
    """A parameter default must be JSON, like any param value."""

    @dag
    def odd(when: object = START) -> None:
        echo(when)

    with pytest.raises(ParamValidationError, match=r"DAG 'odd', param 'when'.*not JSON"):
        odd()


def test_dag_param_references_a_declared_param() -> None:
    """`dag.param(name)` is the same reference classic DAGs can hand to tasks."""

    @dag(params={"who": "world"})
    def classic() -> None:
        from taskkit.authoring import registry

        current = registry.current_dag()
        assert current is not None
        reference = current.param("who")
        assert isinstance(reference, DagParam)
        echo(reference)
        echo.override(task_id="added")(current.param("added", 5))
        with pytest.raises(ParamValidationError, match="param 'nope': is not a param"):
            current.param("nope")

    result = classic().test(conf={"who": "you"})
    assert (result.xcom("echo"), result.xcom("added")) == ("you", 5)


def test_a_mapped_tasks_partial_argument_resolves_per_run() -> None:
    """`.partial(a=param)` gives every mapped instance the run's value."""

    @task
    def add(a: int, b: int) -> int:
        return a + b

    @dag
    def mapped(base: int = 10) -> None:
        add.partial(a=base).expand(b=[1, 2])

    assert mapped().test(conf={"base": 100}).xcom("add") == [101, 102]


def test_calling_with_arguments_it_does_not_take_is_one_line() -> None:
    """Too many or unknown arguments: a DagDefinitionError naming the function, no traceback."""
    with pytest.raises(DagDefinitionError, match=r"@dag function 'pipeline': too many") as info:
        pipeline("echo a", 3, 4)
    assert "\n" not in str(info.value)
    with pytest.raises(DagDefinitionError, match="unexpected keyword argument 'nope'"):
        pipeline(nope=1)
