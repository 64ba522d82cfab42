"""Mapped task groups, xcom_pull by map index and map_index_template, run with DAG.test()."""

from __future__ import annotations

from typing import Any

import pytest

from taskkit import DAG, BashOperator, TriggerRule, get_current_context, task, task_group
from taskkit.errors import InvalidTaskParameterError
from taskkit.states import RunState, State


@task
def numbers() -> list[int]:
    return [1, 2, 3]


def test_every_task_of_a_mapped_group_runs_once_per_item_paired_by_map_index() -> None:
    """Inside the group a task gets the same instance's value; outside, every value in order."""
    with DAG("paired") as dag:

        @task
        def scale(x: int, factor: int) -> int:
            return x * factor

        @task
        def label(scaled: int, x: int) -> str:
            return f"{x}->{scaled}"

        @task_group
        def per_item(x: Any, factor: int) -> Any:
            return label(scale(x, factor), x)

        @task
        def joined(labels: list[str]) -> str:
            return ", ".join(labels)

        joined(per_item.partial(factor=10).expand(x=numbers()))

    result = dag.test()
    assert result.state is RunState.SUCCESS
    assert result.task_states_of("per_item.scale") == dict.fromkeys(range(3), State.SUCCESS)
    assert result.xcom("per_item.label") == ["1->10", "2->20", "3->30"]
    assert result.xcom("joined") == "1->10, 2->20, 3->30"


def test_a_failed_instance_fails_only_its_own_pair_downstream_in_the_group() -> None:
    """Instance 1 failing marks instance 1 downstream upstream_failed; 0 and 2 go on."""
    with DAG("one_fails") as dag:

        @task
        def check(x: int) -> int:
            if x == 2:
                raise ValueError("two")
            return x

        @task
        def after(x: int) -> int:
            return x + 100

        @task_group
        def grp(x: Any) -> Any:
            return after(check(x))

        grp.expand(x=[1, 2, 3])

    result = dag.test()
    assert result.state is RunState.FAILED
    assert result.task_states_of("grp.after") == {
        0: State.SUCCESS,
        1: State.UPSTREAM_FAILED,
        2: State.SUCCESS,
    }
    assert result.xcom("grp.after") == [101, 103]


def test_expand_kwargs_and_classic_operators_inside_a_group() -> None:
    """expand_kwargs gives each instance its dict; a classic operator's fields get the values."""
    with DAG("kwargs_group") as dag:

        @task_group
        def greet(name: Any, punctuation: Any) -> None:
            BashOperator(task_id="say", bash_command="echo hello $WHO", env={"WHO": name})

            @task
            def shout(name: str, punctuation: str) -> str:
                return name.upper() + punctuation

            shout(name, punctuation)

        greet.expand_kwargs(
            [{"name": "ada", "punctuation": "!"}, {"name": "bo", "punctuation": "?"}]
        )

    result = dag.test()
    assert result.state is RunState.SUCCESS
    assert result.xcom("greet.shout") == ["ADA!", "BO?"]
    assert "hello bo" in result.logs("greet.say", map_index=1)


def test_a_group_expanded_over_nothing_skips_its_tasks() -> None:
    """Zero items: every task of the group is skipped, as a mapped task is."""
    with DAG("empty_group") as dag:

        @task
        def nothing() -> list[int]:
            return []

        @task
        def inner(x: int) -> int:
            return x

        @task_group
        def grp(x: Any) -> None:
            inner(x)

        grp.expand(x=nothing())

    result = dag.test()
    assert result.task_states["grp.inner"] is State.SKIPPED
    assert result.state is RunState.SUCCESS


def test_bad_mapped_groups_are_refused_when_the_dag_is_defined() -> None:
    """Nested mapping, a non-expandable value and an unknown argument each name the fix."""

    @task
    def inner(x: int) -> int:
        return x

    @task_group
    def expands_inside(x: Any) -> None:
        inner.expand(x=[1, 2])

    with DAG("nested_task"), pytest.raises(InvalidTaskParameterError, match="the group maps it"):
        expands_inside.expand(x=[1])

    @task_group
    def plain(x: Any) -> None:
        inner(x)

    with DAG("not_a_list"), pytest.raises(InvalidTaskParameterError, match="cannot expand over 5"):
        plain.expand(x=5)
    with DAG("unknown"), pytest.raises(InvalidTaskParameterError, match="no argument 'y'"):
        plain.expand(y=[1])

    @task_group
    def outer(x: Any) -> None:
        plain.expand(x=[1, 2])

    with DAG("nested_group"), pytest.raises(InvalidTaskParameterError, match="maps one level"):
        outer.expand(x=[1])


def test_xcom_pull_by_map_index_and_of_tasks_that_are_not_upstream() -> None:
    """An int picks one instance, a list several; any task of the run is reachable; one that
    never ran gives the default."""
    with DAG("pulls") as dag:

        @task(priority_weight=10)
        def side() -> str:
            return "sideways"

        @task
        def square(x: int) -> int:
            return x * x

        @task
        def pull(ti: Any = None) -> dict[str, Any]:
            return {
                "one": ti.xcom_pull("square", map_indexes=2),
                "some": ti.xcom_pull("square", map_indexes=[0, 5]),
                "all": ti.xcom_pull("square"),
                "side": ti.xcom_pull("side"),
                "never": ti.xcom_pull("never", default="none"),
            }

        side()
        square.expand(x=[1, 2, 3]) >> pull()

    assert dag.test(parallelism=1).xcom("pull") == {
        "one": 9,
        "some": [1, None],
        "all": [1, 4, 9],
        "side": "sideways",
        "never": "none",
    }


def test_map_index_template_is_rendered_after_the_try_with_what_it_set() -> None:
    """A value the task puts in its context names its instance, as in Airflow."""
    with DAG("named") as dag:

        @task(map_index_template="{{ city_name }}")
        def visit(city: dict[str, str]) -> None:
            get_current_context()["city_name"] = city["name"]

        visit.expand(city=[{"name": "Oslo"}, {"name": "Rome"}])

    result = dag.test()
    assert [result.rendered_map_index("visit", i) for i in range(2)] == ["Oslo", "Rome"]


def test_per_instance_counts_decide_trigger_rules_downstream_of_a_mapped_task() -> None:
    """One skipped instance skips all_success but not none_failed; one failed instance fires
    one_failed."""
    with DAG("rules") as dag:

        @task
        def maybe(x: str) -> str:
            if x == "skip":
                from taskkit.errors import AirflowSkipException

                raise AirflowSkipException("skip")
            return x

        @task(trigger_rule=TriggerRule.ALL_SUCCESS)
        def strict(values: Any) -> None: ...

        @task(trigger_rule=TriggerRule.NONE_FAILED)
        def lenient(values: Any) -> None: ...

        mapped = maybe.expand(x=["ok", "skip"])
        strict(mapped)
        lenient(mapped)

    result = dag.test()
    assert result.task_states["strict"] is State.SKIPPED
    assert result.task_states["lenient"] is State.SUCCESS


def test_a_pull_inside_a_mapped_group_gets_the_same_map_index_even_from_a_sibling() -> None:
    """Without map_indexes, a task of the same group (upstream or not) gives this index's value."""
    with DAG("siblings") as dag:

        @task(priority_weight=10)
        def first(x: int) -> int:
            return x * 100

        @task
        def second(ti: Any = None) -> Any:
            return ti.xcom_pull("grp.first")

        @task_group
        def grp(x: Any) -> None:
            first(x)
            second()

        grp.expand(x=[1, 2])

    assert dag.test(parallelism=1).xcom("grp.second") == [100, 200]
