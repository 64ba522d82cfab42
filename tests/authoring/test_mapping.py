"""Dynamic task mapping as Airflow users write it, run with DAG.test()."""

from __future__ import annotations

from typing import Any

import pytest

from taskkit import DAG, BashOperator, PythonOperator, task
from taskkit.errors import DagAssignmentError, InvalidTaskParameterError
from taskkit.states import RunState, State


def test_a_task_function_expands_over_a_list_and_the_next_task_gets_every_value() -> None:
    """One instance per item; the downstream task receives the values in map-index order."""
    with DAG("mapped") as dag:

        @task
        def double(x: int) -> int:
            return x * 2

        @task
        def total(values: list[int]) -> int:
            return sum(values)

        total(double.expand(x=[1, 2, 3]))

    result = dag.test()
    assert result.state is RunState.SUCCESS
    assert result.task_states == {"double": State.SUCCESS, "total": State.SUCCESS}
    assert result.task_states_of("double") == dict.fromkeys(range(3), State.SUCCESS)
    assert result.task_states_of("total") == {-1: State.SUCCESS}
    assert result.xcom("double") == [2, 4, 6]
    assert result.xcom("double", map_index=1) == 4
    assert result.xcom("total") == 12


def test_several_expanded_arguments_give_their_cross_product() -> None:
    """The last argument varies fastest, as itertools.product (and Airflow) order them."""
    with DAG("product") as dag:

        @task
        def pair(a: int, b: str, sep: str) -> str:
            return f"{a}{sep}{b}"

        pair.partial(sep="-").expand(a=[1, 2], b=["x", "y", "z"])

    assert dag.test().xcom("pair") == ["1-x", "1-y", "1-z", "2-x", "2-y", "2-z"]


def test_a_task_expands_over_what_an_upstream_task_returned() -> None:
    """An upstream list decides the count at run time; a dict expands into (key, value) pairs."""
    with DAG("from_xcom") as dag:

        @task
        def numbers() -> list[int]:
            return [3, 4]

        @task
        def prices() -> dict[str, int]:
            return {"apple": 1, "pear": 2}

        @task
        def square(x: int) -> int:
            return x * x

        @task
        def label(item: tuple[str, int]) -> str:
            return f"{item[0]}={item[1]}"

        square.expand(x=numbers())
        label.expand(item=prices())

    result = dag.test()
    assert result.xcom("square") == [9, 16]
    assert result.xcom("label") == ["apple=1", "pear=2"]


def test_expand_kwargs_takes_one_dict_of_arguments_per_instance() -> None:
    """expand_kwargs accepts a literal list of dicts or an upstream task's list of dicts."""
    with DAG("kwargs") as dag:

        @task
        def configs() -> list[dict[str, Any]]:
            return [{"a": 1, "b": 2}, {"a": 10, "b": 20}]

        @task
        def add(a: int, b: int) -> int:
            return a + b

        add.override(task_id="literal").expand_kwargs([{"a": 1, "b": 1}, {"a": 2, "b": 2}])
        add.override(task_id="upstream").expand_kwargs(configs())

    result = dag.test()
    assert result.xcom("literal") == [2, 4]
    assert result.xcom("upstream") == [3, 30]


def test_xcomarg_map_and_zip_transform_what_is_expanded_over() -> None:
    """map() applies a function per item; zip() pairs items (the fillvalue pads the shorter)."""
    with DAG("transform") as dag:

        @task
        def names() -> list[str]:
            return ["a", "b", "c"]

        @task
        def ages() -> list[int]:
            return [1, 2]

        @task
        def show(value: Any) -> str:
            return str(value)

        n, a = names(), ages()
        show.override(task_id="upper").expand(value=n.map(str.upper))
        show.override(task_id="zipped").expand(value=n.zip(a))
        show.override(task_id="padded").expand(value=n.zip(a, fillvalue=0))

    result = dag.test()
    assert result.xcom("upper") == ["A", "B", "C"]
    assert result.xcom("zipped") == ["('a', 1)", "('b', 2)"]
    assert result.xcom("padded") == ["('a', 1)", "('b', 2)", "('c', 0)"]


def test_classic_operators_expand_with_partial() -> None:
    """PythonOperator and BashOperator map like any task; templates render per instance."""

    def add(x: int, y: int) -> int:
        return x + y

    with DAG("operators") as dag:
        PythonOperator.partial(task_id="py", python_callable=add, op_kwargs={"y": 10}).expand(
            op_args=[[1], [2]]
        )
        BashOperator.partial(task_id="bash").expand(
            bash_command=["echo one {{ ti.map_index }}", "echo two {{ ti.map_index }}"]
        )

    result = dag.test()
    assert result.xcom("py") == [11, 12]
    assert result.xcom("bash") == ["one 0", "two 1"]
    assert "two 1" in result.logs("bash", map_index=1)


def test_expanding_over_nothing_skips_the_task() -> None:
    """An empty list skips the mapped task; an all_success task after it is skipped too."""
    with DAG("empty") as dag:

        @task
        def nothing() -> list[int]:
            return []

        @task
        def work(x: int) -> int:
            return x

        @task
        def after(values: list[int]) -> int:
            return len(values)

        after(work.expand(x=nothing()))

    result = dag.test()
    assert result.task_states["work"] is State.SKIPPED
    assert result.task_states["after"] is State.SKIPPED
    assert result.xcom("work") == []
    assert result.state is RunState.SUCCESS


def test_expanding_over_a_value_that_is_not_a_list_fails_the_task_with_the_reason() -> None:
    """A returned int cannot be expanded over: the mapped task fails and its log says why."""
    with DAG("not_a_list") as dag:

        @task
        def one() -> int:
            return 1

        @task
        def work(x: int) -> int:
            return x

        work.expand(x=one())

    result = dag.test()
    assert result.task_states["work"] is State.FAILED
    assert "not a list or dict" in result.logs("work")
    assert result.state is RunState.FAILED


def test_more_than_max_map_length_instances_fail_the_task() -> None:
    """DAG.test() uses core.max_map_length's default, 1024."""
    with DAG("too_many") as dag:

        @task
        def work(x: int) -> int:
            return x

        work.expand(x=list(range(1025)))

    result = dag.test()
    assert result.task_states["work"] is State.FAILED
    assert "core.max_map_length=1024" in result.logs("work")


def test_a_failed_instance_fails_the_task_and_keeps_the_other_values() -> None:
    """Instances run independently; the task's overall state is failed, each keeps its own."""
    with DAG("one_fails") as dag:

        @task(retries=1, retry_delay=0)
        def check(x: int) -> int:
            if x == 2:
                raise ValueError("two is bad")
            return x

        check.expand(x=[1, 2, 3])

    result = dag.test()
    assert result.task_states["check"] is State.FAILED
    assert result.task_states_of("check") == {0: State.SUCCESS, 1: State.FAILED, 2: State.SUCCESS}
    assert result.try_number("check", map_index=1) == 2
    assert result.try_number("check", map_index=0) == 1
    assert result.xcom("check") == [1, 3]
    assert "two is bad" in result.logs("check", map_index=1)


def test_bad_expansions_are_refused_where_the_dag_is_defined() -> None:
    """A scalar, an unknown or fixed parameter, or another DAG's task: one clear error each."""
    with DAG("bad"):

        @task
        def work(x: int) -> int:
            return x

        with pytest.raises(InvalidTaskParameterError, match="cannot expand over 5"):
            work.expand(x=5)
        with pytest.raises(InvalidTaskParameterError, match="no argument 'y'"):
            work.expand(y=[1])
        with pytest.raises(InvalidTaskParameterError, match="'pool' cannot be mapped"):
            BashOperator.partial(task_id="b").expand(pool=["a"])
        with pytest.raises(InvalidTaskParameterError, match="has no parameter 'bash_cmd'"):
            BashOperator.partial(task_id="c").expand(bash_cmd=["echo"])

    with DAG("other"):

        @task
        def elsewhere() -> list[int]:
            return [1]

        foreign = elsewhere()

    with DAG("uses_foreign"):

        @task
        def consume(x: int) -> int:
            return x

        with pytest.raises(DagAssignmentError, match="different DAGs"):
            consume.expand(x=foreign)


def test_a_mapped_task_inside_a_task_group_keeps_its_group_prefix() -> None:
    """A task expanded inside a TaskGroup is named group.task, and so are its instances."""
    from taskkit import TaskGroup

    with DAG("grouped") as dag:

        @task
        def inc(x: int) -> int:
            return x + 1

        with TaskGroup("batch"):
            inc.expand(x=[1, 2])

    result = dag.test()
    assert result.xcom("batch.inc") == [2, 3]
    assert result.task_states_of("batch.inc") == {0: State.SUCCESS, 1: State.SUCCESS}
