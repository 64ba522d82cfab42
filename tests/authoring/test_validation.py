"""Bad definitions fail where they are written, naming the DAG, the task and the fix."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import DAG, EmptyOperator, chain, dag, task
from taskkit.errors import (
    CycleError,
    DagAssignmentError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidTaskParameterError,
)


def test_a_cycle_fails_when_the_with_block_ends_and_shows_its_path() -> None:
    """Leaving `with DAG(...)` with a cycle raises CycleError showing the cycle's path."""
    with pytest.raises(CycleError) as info, DAG("cyclic"):
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        c = EmptyOperator(task_id="c")
        a >> b >> c >> a
    message = str(info.value)
    assert "'cyclic'" in message
    assert any(
        path in message for path in ("a >> b >> c >> a", "b >> c >> a >> b", "c >> a >> b >> c")
    )
    assert "Remove one of these dependencies" in message


def test_a_cycle_fails_when_the_dag_function_is_called() -> None:
    """A @dag function whose body builds a cycle raises when it is called."""

    @dag
    def loop() -> None:
        a = EmptyOperator(task_id="a")
        a >> a

    with pytest.raises(CycleError, match=r"'loop'.*a >> a"):
        loop()


def test_a_cycle_is_a_dag_definition_error_and_a_value_error() -> None:
    """Every definition error can be caught as DagDefinitionError or ValueError."""
    assert issubclass(CycleError, DagDefinitionError)
    assert issubclass(DagDefinitionError, ValueError)


def test_a_duplicate_task_id_names_the_dag_and_the_task() -> None:
    """Two tasks with one task_id in a DAG fail at the second one's creation."""
    with pytest.raises(DuplicateTaskIdError, match=r"'dup'.*'same'.*unique task_id"), DAG("dup"):
        EmptyOperator(task_id="same")
        EmptyOperator(task_id="same")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"pool_slots": 0}, r"pool_slots must be >= 1, got 0; set pool_slots=1"),
        ({"pool_slots": 1.5}, r"pool_slots must be an int"),
        ({"priority_weight": 1.5}, r"priority_weight must be an int, got 1.5"),
        ({"priority_weight": "7"}, r"priority_weight must be an int"),
        ({"priority_weight": True}, r"priority_weight must be an int"),
        ({"weight_rule": "sideways"}, r"unknown weight_rule 'sideways'; use one of: downstream"),
        ({"trigger_rule": "sometimes"}, r"unknown trigger_rule 'sometimes'; use one of: all_succ"),
        ({"retries": -1}, r"retries must be >= 0, got -1; set retries=0"),
        ({"retry_delay": "soon"}, r"retry_delay must be a timedelta or seconds"),
        ({"retry_delay": dt.timedelta(seconds=-1)}, r"retry_delay must not be negative"),
        ({"max_active_tis_per_dag": 0}, r"max_active_tis_per_dag must be >= 1"),
        ({"execution_timeout": 0}, r"execution_timeout must be positive"),
        ({"pool": ""}, r"pool must be a non-empty pool name"),
        ({"task_id": "has space"}, r"task_id must be"),
    ],
)
def test_bad_task_parameters_fail_naming_dag_task_and_fix(
    kwargs: dict[str, Any], pattern: str
) -> None:
    """Each out-of-range parameter raises InvalidTaskParameterError naming DAG and task."""
    options = {"task_id": "t", **kwargs}
    with pytest.raises(InvalidTaskParameterError, match=pattern) as info, DAG("bad"):
        EmptyOperator(**options)
    assert str(info.value).startswith(f"DAG 'bad', task {options['task_id']!r}:")


def test_bad_values_in_default_args_fail_too() -> None:
    """A bad value in default_args fails for the first task that inherits it."""
    with (
        pytest.raises(InvalidTaskParameterError, match=r"'t'.*retries"),
        DAG("bad_defaults", default_args={"retries": -2}),
    ):
        EmptyOperator(task_id="t")


def test_bad_task_function_arguments_fail_when_the_dag_function_is_called() -> None:
    """A @task with pool_slots=0 fails as soon as the @dag function is called."""

    @task(pool_slots=0)
    def heavy() -> None:
        return None

    @dag
    def uses_heavy() -> None:
        heavy()

    with pytest.raises(InvalidTaskParameterError, match=r"'uses_heavy', task 'heavy'"):
        uses_heavy()


def test_an_operator_cannot_depend_on_a_task_of_another_dag() -> None:
    """Linking tasks across DAGs raises DagAssignmentError naming both DAGs."""
    with DAG("first"):
        a = EmptyOperator(task_id="a")
    with pytest.raises(DagAssignmentError, match=r"'second'.*'first'.*Move both"), DAG("second"):
        b = EmptyOperator(task_id="b")
        a >> b


def test_an_operator_cannot_be_added_to_a_second_dag() -> None:
    """Adding one operator to two DAGs raises DagAssignmentError with the fix."""
    with DAG("owner"):
        a = EmptyOperator(task_id="a")
    other = DAG("other")
    with pytest.raises(DagAssignmentError, match=r"'a'.*'owner'.*'other'.*separate operator"):
        other.add_task(a)


def test_an_operator_outside_any_dag_is_rejected() -> None:
    """Creating an operator with no DAG around it says how to attach it."""
    with pytest.raises(DagAssignmentError, match="outside a DAG"):
        EmptyOperator(task_id="orphan")


def test_calling_a_task_function_outside_a_dag_is_rejected() -> None:
    """A @task function called with no DAG around it says where to call it."""

    @task
    def lonely() -> None:
        return None

    with pytest.raises(DagAssignmentError, match="'lonely' was called outside a DAG"):
        lonely()


@pytest.mark.parametrize("name", ["max_active_runs", "max_active_tasks"])
def test_dag_limits_must_be_positive(name: str) -> None:
    """max_active_runs and max_active_tasks must be ints >= 1 or None."""
    with pytest.raises(DagDefinitionError, match=rf"'limits'.*{name} must be an int >= 1"):
        DAG("limits", **{name: 0})


def test_chain_with_lists_of_different_lengths_is_rejected() -> None:
    """chain() cannot pair up adjacent lists of different lengths."""
    with DAG("chain_bad"):
        a, b, c = (EmptyOperator(task_id=t) for t in "abc")
        with pytest.raises(ValueError, match="equally long"):
            chain([a, b], [c])
