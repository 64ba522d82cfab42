"""Unpickled operators keep defaults on the class, and still read exactly what was set."""

from __future__ import annotations

import datetime as dt
from typing import Any

import cloudpickle

from taskkit import DAG, task
from taskkit.authoring.baseoperator import BaseOperator
from taskkit.authoring.operators import BashOperator, EmptyOperator, PythonOperator


def _noop() -> None:
    return None


def _alert(context: Any) -> None:
    return None


def _round_trip(dag: DAG) -> DAG:
    copy: DAG = cloudpickle.loads(cloudpickle.dumps(dag))
    return copy


def _attributes(operator: BaseOperator) -> dict[str, Any]:
    skip = {"dag", "task_group", "python_callable"}  # compared by identity of their own copies
    return {name: value for name, value in vars(operator).items() if name not in skip}


def _same_values(original: BaseOperator, copy: BaseOperator) -> None:
    for name, value in _attributes(original).items():
        got = getattr(copy, name)
        assert type(got) is type(value), name
        if name == "params":
            assert dict(got) == dict(value)
        elif name in ("op_args", "op_kwargs"):  # may hold XComArgs, which compare by identity
            assert repr(got) == repr(value), name
        elif name.endswith("_callback"):
            assert [f.__name__ for f in got] == [f.__name__ for f in value], name
        else:
            assert got == value, name


def test_an_unpickled_dag_reads_every_value_it_was_built_with() -> None:
    @task(retries=2, pool_slots=1)
    def add(x: int) -> int:
        return x + 1

    with DAG(
        "values",
        default_args={"owner": "data", "retry_delay": dt.timedelta(seconds=7)},
    ) as dag:
        first = add(1)
        second = add(first)
        PythonOperator(
            task_id="py",
            python_callable=_noop,
            op_args=[1],
            on_failure_callback=_alert,
            priority_weight=5,
            params={"n": 3},
        )
        bash = BashOperator(task_id="bash", bash_command="echo hi", retries=0)
        EmptyOperator(task_id="empty", outlets=["s3://bucket/key"], trigger_rule="all_done")
        bash >> EmptyOperator(task_id="after")
    copy = _round_trip(dag)
    assert second.operator.upstream_task_ids == {first.operator.task_id}
    for task_id, original in dag.task_dict.items():
        _same_values(original, copy.task_dict[task_id])
    assert copy.task_dict["py"].params["n"] == 3
    assert copy.task_dict["after"].upstream_task_ids == {"bash"}


def test_an_unpickled_operator_with_defaults_holds_no_copies_of_them() -> None:
    with DAG("lean") as dag:
        task(_noop)()
    copy = _round_trip(dag).task_dict["_noop"]
    assert set(vars(copy)) == {"dag", "task_id", "task_group", "python_callable"}
    assert copy.retries == 0 and copy.pool == "default_pool" and copy.do_xcom_push is True


def test_each_unpickled_operator_gets_its_own_empty_lists() -> None:
    with DAG("own") as dag:
        EmptyOperator(task_id="a")
        EmptyOperator(task_id="b")
    copy = _round_trip(dag)
    copy.task_dict["a"].on_failure_callback.append(_alert)
    copy.task_dict["a"].upstream_task_ids.add("x")
    assert copy.task_dict["b"].on_failure_callback == []
    assert copy.task_dict["b"].upstream_task_ids == set()
    assert copy.task_dict["a"].on_failure_callback == [_alert]
    assert _round_trip(copy).task_dict["a"].upstream_task_ids == {"x"}


class _RetryingOperator(BaseOperator):
    """An operator class whose own class attribute shadows a shared default."""

    retries = 3

    def execute(self, context: Any) -> None:
        return None


def test_a_subclass_attribute_of_the_same_name_does_not_replace_the_instance_value() -> None:
    with DAG("shadow") as dag:
        _RetryingOperator(task_id="zero", retries=0)
        _RetryingOperator(task_id="three", retries=3)
        changed = EmptyOperator(task_id="changed")
    changed.retries = 4  # set after construction, as DAG files sometimes do
    copy = _round_trip(dag)
    assert copy.task_dict["zero"].retries == 0
    assert copy.task_dict["three"].retries == 3
    assert copy.task_dict["changed"].retries == 4
