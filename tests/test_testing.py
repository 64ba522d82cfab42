"""DAG.test(): a whole run in this process, with the scheduler's rules."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from dateutil.relativedelta import relativedelta

from taskkit import (
    DAG,
    BashOperator,
    EmptyOperator,
    Param,
    PythonOperator,
    State,
    TriggerRule,
    dag,
    get_current_context,
    task,
)
from taskkit.errors import AirflowSkipException, ParamValidationError, TaskNotFoundError
from taskkit.states import RunState

DATE = dt.datetime(2026, 2, 3, tzinfo=dt.timezone.utc)
NO_DELAY = dt.timedelta(0)


def _fail() -> None:
    raise RuntimeError("boom")


def _rule_dag(rule: TriggerRule, upstream: list[str]) -> DAG:
    """A DAG whose task `t` (with `rule`) follows tasks that succeed, fail or skip."""
    actions = {"ok": lambda: None, "bad": _fail}
    with DAG(f"rule_{rule}") as d:
        target = EmptyOperator(task_id="t", trigger_rule=rule)
        after = EmptyOperator(task_id="after")
        for i, kind in enumerate(upstream):
            if kind == "skip":
                op: Any = BashOperator(task_id=f"u{i}", bash_command="exit 99")
            else:
                op = PythonOperator(task_id=f"u{i}", python_callable=actions[kind])
            op >> target
        target >> after
    return d


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        (TriggerRule.ALL_SUCCESS, ["ok", "ok"], State.SUCCESS),
        (TriggerRule.ALL_SUCCESS, ["ok", "bad"], State.UPSTREAM_FAILED),
        (TriggerRule.ALL_SUCCESS, ["ok", "skip"], State.SKIPPED),
        (TriggerRule.ALL_FAILED, ["bad", "bad"], State.SUCCESS),
        (TriggerRule.ALL_FAILED, ["bad", "ok"], State.SKIPPED),
        (TriggerRule.ALL_DONE, ["bad", "skip", "ok"], State.SUCCESS),
        (TriggerRule.ONE_SUCCESS, ["bad", "ok"], State.SUCCESS),
        (TriggerRule.ONE_SUCCESS, ["bad", "skip"], State.UPSTREAM_FAILED),
        (TriggerRule.ONE_SUCCESS, ["skip", "skip"], State.SKIPPED),
        (TriggerRule.ONE_FAILED, ["ok", "bad"], State.SUCCESS),
        (TriggerRule.ONE_FAILED, ["ok", "skip"], State.SKIPPED),
        (TriggerRule.NONE_FAILED, ["ok", "skip"], State.SUCCESS),
        (TriggerRule.NONE_FAILED, ["ok", "bad"], State.UPSTREAM_FAILED),
        (TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, ["skip", "ok"], State.SUCCESS),
        (TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, ["skip", "skip"], State.SKIPPED),
        (TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, ["bad", "ok"], State.UPSTREAM_FAILED),
        (TriggerRule.ALWAYS, ["bad", "skip"], State.SUCCESS),
    ],
)
def test_trigger_rules_decide_whether_a_task_runs(
    rule: TriggerRule, upstream: list[str], expected: State
) -> None:
    """Each of the eight trigger rules runs, skips or fails its task as Airflow does."""
    result = _rule_dag(rule, upstream).test()
    assert result.task_states["t"] == expected


def test_upstream_failed_and_skipped_propagate_down_the_chain() -> None:
    """A failure marks all_success descendants upstream_failed; a skip skips them."""
    with DAG("propagate") as d:
        bad = PythonOperator(task_id="bad", python_callable=_fail)
        skip = BashOperator(task_id="skip", bash_command="exit 99")
        bad >> EmptyOperator(task_id="b1") >> EmptyOperator(task_id="b2")
        skip >> EmptyOperator(task_id="s1") >> EmptyOperator(task_id="s2")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
        d.get_task("b2") >> cleanup
    result = d.test()
    assert [result.task_states[t] for t in ("bad", "b1", "b2")] == [
        State.FAILED,
        State.UPSTREAM_FAILED,
        State.UPSTREAM_FAILED,
    ]
    assert [result.task_states[t] for t in ("skip", "s1", "s2")] == [State.SKIPPED] * 3
    assert result.task_states["cleanup"] == State.SUCCESS
    assert result.order == ["bad", "skip", "cleanup"]
    assert result.state == RunState.SUCCESS  # leaves decide: cleanup and s2 did not fail


def test_a_failed_leaf_fails_the_run() -> None:
    """The run fails when a leaf task fails, and the error is in the task's log."""
    with DAG("fails") as d:
        PythonOperator(task_id="bad", python_callable=_fail)
    result = d.test()
    assert result.state == "failed"
    assert "RuntimeError: boom" in result.logs("bad")


def test_retries_rerun_a_task_with_increasing_try_numbers() -> None:
    """A flaky task is retried, sees try_number 1, 2, 3 and succeeds on its third try."""
    seen: list[int] = []

    @task(retries=3, retry_delay=dt.timedelta(hours=1))
    def flaky(ti: Any = None) -> int:
        seen.append(ti.try_number)
        if ti.try_number < 3:
            raise ValueError(f"try {ti.try_number}")
        return ti.try_number

    @dag
    def retrying() -> None:
        flaky()

    result = retrying().test(retry_delay=NO_DELAY)
    assert seen == [1, 2, 3]
    assert result.task_states["flaky"] == State.SUCCESS
    assert result.try_number("flaky") == 3
    assert result.xcom("flaky") == 3
    assert "Try 1 failed: ValueError: try 1" in result.logs("flaky")
    assert result.order == ["flaky", "flaky", "flaky"]


def test_a_task_fails_once_its_retries_are_used_up() -> None:
    """With retries=1 a task that always fails is tried twice and ends failed."""
    with DAG("exhaust", default_args={"retries": 1}) as d:
        PythonOperator(task_id="bad", python_callable=_fail)
    result = d.test(retry_delay=NO_DELAY)
    assert (result.task_states["bad"], result.try_number("bad")) == (State.FAILED, 2)


def test_a_short_real_retry_delay_is_waited_for() -> None:
    """Without the override, the task's own (short) retry_delay passes before the retry."""
    stamps: list[float] = []

    def flaky() -> None:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            raise ValueError("first")

    with DAG("real_delay") as d:
        PythonOperator(task_id="t", python_callable=flaky, retries=1, retry_delay=0.05)
    assert d.test().task_states["t"] == State.SUCCESS
    assert stamps[1] - stamps[0] >= 0.05


def test_pool_with_one_slot_runs_tasks_in_priority_order() -> None:
    """Three tasks in a one-slot pool start in priority_weight order: c, a, b."""
    with DAG("seed") as d:
        for name, weight in (("process_a", 7), ("process_b", 6), ("process_c", 8)):
            EmptyOperator(task_id=name, pool="test_pool", priority_weight=weight)
    assert d.test(pools={"test_pool": 1}).order == ["process_c", "process_a", "process_b"]


def test_ready_tasks_start_by_total_priority_then_task_id() -> None:
    """Among ready tasks the higher priority_weight_total goes first, ties by task_id."""
    with DAG("priority") as d:
        for name in ("b", "a", "c"):
            EmptyOperator(task_id=name)
        heavy = EmptyOperator(task_id="z")
        heavy >> EmptyOperator(task_id="z_child", priority_weight=5)
    assert d.test(parallelism=1).order == ["z", "z_child", "a", "b", "c"]


def test_a_big_task_is_not_starved_by_small_ones_in_its_pool() -> None:
    """A 3-slot task of higher priority starts before lower-priority 1-slot tasks overtake it."""
    with DAG("slots") as d:
        first = EmptyOperator(task_id="first", pool="shared", pool_slots=2, priority_weight=100)
        EmptyOperator(task_id="big", pool="shared", pool_slots=3, priority_weight=10)
        for i in range(3):
            EmptyOperator(task_id=f"small{i}", pool="shared", priority_weight=1)
    assert first.pool_slots == 2
    order = d.test(pools={"shared": 4}).order
    assert order[:2] == ["first", "big"]


def test_a_task_that_can_never_fit_its_pool_fails_with_the_reason() -> None:
    """pool_slots above the pool's size fails the task, with the fix in its log."""
    with DAG("too_big") as d:
        EmptyOperator(task_id="huge", pool="small", pool_slots=3) >> EmptyOperator(task_id="next")
    result = d.test(pools={"small": 2})
    assert result.task_states == {"huge": State.FAILED, "next": State.UPSTREAM_FAILED}
    assert "needs 3 slots but pool 'small' has only 2" in result.logs("huge")
    # As under the scheduler, the refusal is try 1's: that try's log holds the reason.
    assert result.try_number("huge") == 1
    assert result.order == []


def test_a_task_in_an_unknown_pool_fails_with_the_reason() -> None:
    """A pool that does not exist fails the task instead of hanging."""
    with DAG("no_pool") as d:
        EmptyOperator(task_id="lost", pool="nowhere")
    result = d.test()
    assert result.task_states["lost"] == State.FAILED
    assert "pool 'nowhere' does not exist" in result.logs("lost")


def test_xcom_values_flow_through_arguments_including_nested_ones() -> None:
    """Outputs passed directly, in lists and in dicts arrive as the upstream values."""

    @task
    def number(n: int) -> int:
        return n

    @task
    def combine(values: list[int], mapping: dict[str, int]) -> int:
        return sum(values) + mapping["x"]

    @dag
    def xcoms() -> None:
        combine([number(1), number(2)], {"x": number(10)})

    result = xcoms().test()
    assert result.xcom("combine") == 13
    assert result.xcom("number__2") == 10


def test_xcom_push_and_pull_through_ti() -> None:
    """ti.xcom_push stores extra keys that ti.xcom_pull reads downstream."""

    def push(ti: Any) -> None:
        ti.xcom_push("extra", 42)

    def pull(ti: Any) -> list[Any]:
        return [ti.xcom_pull("push", key="extra"), ti.xcom_pull(["push"], key="extra")]

    with DAG("xcom_ti") as d:
        PythonOperator(task_id="push", python_callable=push) >> PythonOperator(
            task_id="pull", python_callable=pull
        )
    result = d.test()
    assert result.xcom("pull") == [42, [42]]
    assert result.xcom("push", key="extra") == 42


def test_xcom_pull_reaches_any_ancestor_and_gives_none_for_a_task_that_never_ran() -> None:
    """A try pulls the value of a task two hops up; a skipped task's value is None (Airflow)."""

    def pull(ti: Any) -> Any:
        return [ti.xcom_pull("source"), ti.xcom_pull("never"), ti.xcom_pull("never", default=7)]

    def skip() -> None:
        raise AirflowSkipException

    with DAG("xcom_far_upstream") as d:
        source = PythonOperator(task_id="source", python_callable=lambda: 1)
        middle = PythonOperator(task_id="middle", python_callable=lambda: 2)
        never = PythonOperator(task_id="never", python_callable=skip)
        puller = PythonOperator(task_id="pull", python_callable=pull, trigger_rule="all_done")
        source >> middle >> puller
        never >> puller
    result = d.test()
    assert result.xcom("pull") == [1, None, 7]


def test_what_a_failed_try_pushed_reaches_an_all_done_task() -> None:
    """Values pushed before a try raised are kept, as in Airflow: an all_done task pulls them."""

    def partial(ti: Any) -> None:
        ti.xcom_push("partial", 41)
        raise RuntimeError("boom")

    def pull(ti: Any) -> Any:
        return ti.xcom_pull("partial", key="partial")

    with DAG("xcom_failed_push") as d:
        failing = PythonOperator(task_id="partial", python_callable=partial)
        failing >> PythonOperator(task_id="pull", python_callable=pull, trigger_rule="all_done")
    result = d.test()
    assert result.task_states["partial"] == State.FAILED
    assert result.xcom("pull") == 41


def test_logs_hold_what_a_task_logged_with_the_logging_module() -> None:
    """`logging` output is part of the task's log in DAG.test(), as in a worker's task log."""

    def chatty() -> None:
        logging.getLogger("etl.load").info("loaded %d rows", 3)

    with DAG("logging_dag") as d:
        PythonOperator(task_id="chatty", python_callable=chatty)
    assert "INFO etl.load: loaded 3 rows" in d.test().logs("chatty")


def test_task_functions_receive_the_run_context() -> None:
    """ti, params, conf, logical_date and dag_run are filled from the run."""

    @task
    def inspect(ti: Any, params: Any, conf: Any, logical_date: Any, dag_run: Any) -> dict[str, Any]:
        return {
            "try": ti.try_number,
            "p": params["p"],
            "conf": conf.get("c"),
            "date": logical_date,
            "run_id": dag_run.run_id,
        }

    @dag(params={"p": "default"})
    def ctx() -> None:
        inspect()

    result = ctx().test(logical_date=DATE, conf={"c": 1, "p": "from conf"})
    value = result.xcom("inspect")
    assert value == {"try": 1, "p": "from conf", "conf": 1, "date": DATE, "run_id": result.run_id}


def test_get_current_context_returns_the_running_tasks_context() -> None:
    """get_current_context() inside a task gives the same mapping, ds included."""

    @task
    def peek() -> str:
        context = get_current_context()
        return f"{context['ds']} {context['ti'].task_id}"

    @dag
    def current() -> None:
        peek()

    assert current().test(logical_date=DATE).xcom("peek") == "2026-02-03 peek"


def test_bash_templates_see_the_run_context() -> None:
    """BashOperator renders ti.try_number, ds, params and dag_run.run_id."""
    with DAG("templated", params={"who": "world"}) as d:
        BashOperator(
            task_id="say",
            bash_command="echo {{ ti.try_number }} {{ ds }} {{ params.who }} {{ dag_run.run_id }}",
        )
    result = d.test(logical_date=DATE)
    assert result.xcom("say") == f"1 2026-02-03 world {result.run_id}"


def test_logs_hold_what_each_task_printed() -> None:
    """print() output of a task is in logs(task_id), not on the test's stdout."""

    @task
    def chatty() -> None:
        print("hello from the task")

    @dag
    def printing() -> None:
        chatty()

    result = printing().test()
    assert result.logs("chatty") == "hello from the task\n"


def test_result_accessors_reject_unknown_tasks() -> None:
    """Asking the result about a task the DAG lacks raises TaskNotFoundError."""
    with DAG("accessors") as d:
        EmptyOperator(task_id="t")
    result = d.test()
    with pytest.raises(TaskNotFoundError):
        result.xcom("nope")


def test_execution_timeout_fails_a_slow_try() -> None:
    """A try running past execution_timeout fails with the timeout in its log."""
    with DAG("timeout") as d:
        PythonOperator(
            task_id="slow",
            python_callable=lambda: time.sleep(5),
            execution_timeout=dt.timedelta(milliseconds=50),
        )
    result = d.test()
    assert result.task_states["slow"] == State.FAILED
    assert "TaskTimeoutError" in result.logs("slow")


def test_override_and_suffixes_show_up_in_the_run() -> None:
    """Tasks made with .override() and repeated calls run under their own task ids."""

    @task
    def step(n: int) -> int:
        return n

    @dag
    def reused() -> None:
        step(1) >> step(2) >> step.override(task_id="final")(3)

    result = reused().test()
    assert result.order == ["step", "step__1", "final"]
    assert result.xcom("final") == 3


def test_a_dag_survives_a_cloudpickle_round_trip() -> None:
    """A DAG loaded from cloudpickle bytes runs with .test() as the original does."""

    @task
    def source() -> int:
        return 20

    @task
    def double(x: int) -> int:
        return x * 2

    @dag
    def pickled() -> None:
        double(source()) >> BashOperator(task_id="echo", bash_command="echo {{ ds }}")

    loaded = cloudpickle.loads(cloudpickle.dumps(pickled()))
    result = loaded.test(logical_date=DATE)
    assert result.state == RunState.SUCCESS
    assert result.xcom("double") == 40
    assert result.xcom("echo") == "2026-02-03"


def test_dag_test_leaves_no_files_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run creates no files in the working directory or the temp directory."""
    monkeypatch.chdir(tmp_path)
    before_tmp = set(Path(tempfile.gettempdir()).iterdir())
    with DAG("clean") as d:
        BashOperator(task_id="b", bash_command="echo hi") >> PythonOperator(
            task_id="p", python_callable=lambda: 1
        )
    assert d.test().state == RunState.SUCCESS
    assert list(tmp_path.iterdir()) == []
    assert set(Path(tempfile.gettempdir()).iterdir()) <= before_tmp


def test_parallelism_must_be_positive() -> None:
    """DAG.test(parallelism=0) is a clear error rather than a run that does nothing."""
    with DAG("par") as d:
        EmptyOperator(task_id="t")
    with pytest.raises(ValueError, match="parallelism"):
        d.test(parallelism=0)


def test_dag_test_validates_conf_against_params_as_a_trigger_does() -> None:
    """A conf value failing its Param's schema is a ParamValidationError naming the param."""
    with DAG("validated", params={"rows": Param(10, type="integer", minimum=1)}) as d:
        EmptyOperator(task_id="t")
    with pytest.raises(ParamValidationError, match="rows"):
        d.test(conf={"rows": 0})
    assert d.test(conf={"rows": 3}).state == RunState.SUCCESS


def test_dagrun_timeout_skips_what_is_left_and_fails_the_run() -> None:
    """At dagrun_timeout DAG.test() stops the running try (as the scheduler kills it), skips
    it and the tasks not run yet, and the run fails."""
    with DAG("timeout_dag", dagrun_timeout=dt.timedelta(seconds=0.05)) as d:
        slow = PythonOperator(task_id="slow", python_callable=lambda: time.sleep(5))
        slow >> EmptyOperator(task_id="after")
    result = d.test()
    assert result.task_states == {"slow": State.SKIPPED, "after": State.SKIPPED}
    assert result.try_number("slow") == 1
    assert result.state == RunState.FAILED
    assert "dagrun_timeout" in result.logs("after")


def test_dag_callbacks_are_called_with_the_runs_context_and_reason() -> None:
    """A failed run calls on_failure_callback (reason task_failure); one that raises is printed."""
    seen: list[tuple[str, str]] = []

    def record(context: Any) -> None:
        seen.append((context["reason"], context["dag_run"].dag_id))

    def broken(context: Any) -> None:
        raise RuntimeError("callback bug")

    with DAG(
        "dag_callbacks", on_failure_callback=[broken, record], on_success_callback=record
    ) as d:
        PythonOperator(task_id="t", python_callable=lambda: 1 / 0)
    assert d.test().state == RunState.FAILED
    assert seen == [("task_failure", "dag_callbacks")]


def test_a_test_run_gets_the_data_interval_airflow_infers() -> None:
    """DAG.test(logical_date=...) of a monthly DAG covers the month before the logical date."""
    seen: dict[str, Any] = {}

    with DAG("monthly", schedule=relativedelta(months=1), start_date=DATE) as monthly:

        @task
        def record() -> None:
            context = get_current_context()
            seen["interval"] = (context["data_interval_start"], context["data_interval_end"])

        record()

    monthly.test(logical_date=DATE)
    assert seen["interval"] == (dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc), DATE)
