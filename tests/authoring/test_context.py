"""The run context: what task functions, templates and get_current_context() see."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import DAG, BashOperator, EmptyOperator, get_current_context
from taskkit.authoring.context import DagRunInfo, TaskInstanceInfo, base_context, try_context
from taskkit.errors import TaskkitError
from taskkit.execution.runtime import TryXCom

DATE = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)


def test_base_context_holds_dates_in_airflow_formats() -> None:
    """ds, ds_nodash, ts and ts_nodash are derived from the logical date."""
    context = base_context(DagRunInfo("d", "r", DATE, {}), {})
    assert context["ds"] == "2026-05-06"
    assert context["ds_nodash"] == "20260506"
    assert context["ts"] == DATE.isoformat()
    assert context["ts_nodash"] == "20260506T070809"
    assert context["run_id"] == "r"
    assert context["dag_run"].run_id == "r"


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(2026, 5, 6, 7, 8, 9),
        dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    ],
)
def test_date_keys_are_what_strftime_gives_for_any_logical_date(when: dt.datetime) -> None:
    """ds, ds_nodash and ts_nodash are Airflow's strftime formats, with microseconds or offsets."""
    context = base_context(DagRunInfo("d", "r", when, {}), {})
    assert context["ds"] == when.strftime("%Y-%m-%d")
    assert context["ds_nodash"] == when.strftime("%Y%m%d")
    assert context["ts_nodash"] == when.strftime("%Y%m%dT%H%M%S")
    assert context["ts"] == when.isoformat()


def test_airflow_2_dates_are_there_for_airflow_2_templates() -> None:
    """execution_date, next_ and prev_execution_date, next_ds, prev_ds, tomorrow_ds and
    yesterday_ds (and their _nodash forms), as Airflow 2.2+ gave them: a scheduled run's
    next date is the start of its next interval (its data_interval_end) and its previous
    one the schedule point before it; a manual run's are both its own logical date."""
    end, before = DATE + dt.timedelta(days=1), DATE - dt.timedelta(days=3)
    earlier = DATE - dt.timedelta(days=9)
    scheduled = base_context(
        DagRunInfo(
            "d",
            "r",
            DATE,
            {},
            "scheduled",
            DATE,
            end,
            prev_logical_date_success=earlier,
            previous_point=before,
        ),
        {},
    )
    assert scheduled["execution_date"] is DATE
    assert (scheduled["next_execution_date"], scheduled["next_ds"]) == (end, "2026-05-07")
    assert (scheduled["prev_execution_date"], scheduled["prev_ds"]) == (before, "2026-05-03")
    assert scheduled["prev_execution_date_success"] is earlier
    assert (scheduled["tomorrow_ds"], scheduled["yesterday_ds"]) == ("2026-05-07", "2026-05-05")
    assert (
        scheduled["next_ds_nodash"],
        scheduled["prev_ds_nodash"],
        scheduled["yesterday_ds_nodash"],
    ) == ("20260507", "20260503", "20260505")
    manual = base_context(DagRunInfo("d", "r", DATE, {}, "manual", DATE, end), {})
    assert (manual["next_execution_date"], manual["next_ds"]) == (DATE, "2026-05-06")
    assert (manual["prev_execution_date"], manual["prev_ds"]) == (DATE, "2026-05-06")
    assert manual["prev_execution_date_success"] is None
    # A schedule without data intervals has no previous point.
    trigger = base_context(DagRunInfo("d", "r", DATE, {}, "scheduled", DATE, DATE), {})
    assert (trigger["prev_execution_date"], trigger["prev_ds"], trigger["prev_ds_nodash"]) == (
        None,
        None,
        None,
    )
    old = base_context(DagRunInfo("d", "r", dt.datetime(999, 1, 2, tzinfo=dt.timezone.utc), {}), {})
    assert (old["ds"], old["tomorrow_ds"]) == ("999-01-02", "999-01-03")  # as strftime pads


@pytest.mark.parametrize(
    ("schedule", "prev_ds"),
    [(None, "None"), ("0 8 * * 1,5", "2026-05-04"), (dt.timedelta(hours=30), "2026-05-05")],
)
def test_an_airflow_2_template_and_callable_get_those_dates_under_dag_test(
    schedule: str | dt.timedelta | None, prev_ds: str
) -> None:
    """`{{ execution_date }}` and friends render and a callable naming them gets them. As
    in Airflow 2's `dag.test()`, `prev_ds` is the schedule point before the logical date
    (none without a schedule), and there is no previous success."""
    from taskkit import PythonOperator

    def dates(
        execution_date: dt.datetime,
        yesterday_ds: str,
        prev_ds: str | None = "default",
        prev_execution_date_success: dt.datetime | None = DATE,
    ) -> str:
        return f"{execution_date:%Y-%m-%d} {yesterday_ds} {prev_ds} {prev_execution_date_success}"

    with DAG("airflow2_dates", start_date=dt.datetime(2026, 1, 1), schedule=schedule) as d:
        BashOperator(task_id="echo", bash_command="echo {{ execution_date }} {{ tomorrow_ds }}")
        PythonOperator(task_id="dates", python_callable=dates)
    assert d.warnings == []
    result = d.test(logical_date=DATE)
    assert result.state == "success"
    assert result.xcom("echo") == f"{DATE} 2026-05-07"
    assert result.xcom("dates") == f"2026-05-06 2026-05-05 {prev_ds} None"


def test_a_dag_dated_with_pendulum_gets_pendulum_dates_in_its_context() -> None:
    """As in Airflow, whose context dates are pendulum DateTimes in UTC: ported code and
    templates may call pendulum's methods. A DAG dated with datetime keeps datetimes; both
    print alike (pendulum 3's str(), with a space, as Airflow 3 renders them)."""
    import pendulum

    from taskkit import PythonOperator

    def shifted(logical_date: dt.datetime, prev_execution_date: dt.datetime) -> list[str]:
        assert isinstance(logical_date, pendulum.DateTime)
        assert isinstance(prev_execution_date, pendulum.DateTime)
        return [logical_date.add(days=1).to_date_string(), str(logical_date)]

    with DAG("dated", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as d:
        PythonOperator(task_id="shifted", python_callable=shifted)
        BashOperator(
            task_id="echo",
            bash_command="echo {{ logical_date.in_timezone('Asia/Tokyo').format('HH:mm') }}",
        )
    assert d.pendulum_dates and type(d.start_date) is dt.datetime  # the DAG's own stay plain
    result = d.test(logical_date=DATE)
    assert result.xcom("shifted") == ["2026-05-07", "2026-05-06 07:08:09+00:00"]
    assert result.xcom("echo") == "16:08"

    def plain(logical_date: dt.datetime) -> str:
        return type(logical_date).__name__

    with DAG("plain", start_date=dt.datetime(2026, 1, 1)) as p:
        PythonOperator(task_id="plain", python_callable=plain)
    assert not p.pendulum_dates
    assert p.test(logical_date=DATE).xcom("plain") == "datetime"


def test_task_instance_and_dag_run_are_the_classes_of_ti_and_dag_run() -> None:
    """`from airflow.models import TaskInstance, DagRun` ports by its import: they are the
    classes of a try's `ti` and `dag_run`, for type hints and isinstance checks."""
    from taskkit import DagRun, PythonOperator, TaskInstance

    def check(ti: TaskInstance, dag_run: DagRun) -> bool:
        return isinstance(ti, TaskInstance) and isinstance(dag_run, DagRun)

    with DAG("models_names", start_date=dt.datetime(2026, 1, 1)) as d:
        PythonOperator(task_id="check", python_callable=check)
    assert d.test().xcom("check") is True


def test_conf_overrides_params_and_adds_its_other_keys() -> None:
    """A run's conf replaces declared params and adds the rest, as Airflow's params do."""
    context = base_context(DagRunInfo("d", "r", DATE, {"x": 2, "extra": 3}), {"x": 1, "y": 1})
    assert context["params"] == {"x": 2, "y": 1, "extra": 3}
    assert context["conf"] == {"x": 2, "extra": 3}


def test_get_current_context_outside_a_task_explains_where_to_call_it() -> None:
    """Calling get_current_context() outside a running task raises a TaskkitError."""
    with pytest.raises(TaskkitError, match="outside a running task"):
        get_current_context()


def test_context_has_airflows_other_keys() -> None:
    """ts_nodash_with_tz, macros, dag, task_instance_key_str and prev_* are in a try's context."""
    run = DagRunInfo("d", "r", DATE, {}, prev_data_interval_start_success=DATE)
    with DAG("ctx") as d:
        op = EmptyOperator(task_id="t")
    ti = TaskInstanceInfo("ctx", "t", "r", 1, 1, TryXCom("t", {}))
    context = try_context(base_context(run, {}), ti, op)
    assert context["ts_nodash_with_tz"] == "20260506T070809+0000"
    assert context["task_instance_key_str"] == "ctx__t__20260506"
    assert context["dag"] is d
    assert context["task"] is op
    assert context["macros"].ds_add(context["ds"], -6) == "2026-04-30"
    assert context["prev_data_interval_start_success"] == DATE
    assert context["prev_data_interval_end_success"] is None


def test_templates_see_the_new_context_keys_under_dag_test() -> None:
    """A BashOperator renders macros, task_instance_key_str and dag.dag_id from the context."""
    with DAG("ctx_run") as d:
        BashOperator(
            task_id="echo",
            bash_command=(
                "echo {{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m') }} "
                "{{ task_instance_key_str }} {{ dag.dag_id }} {{ task.task_id }}"
            ),
        )
    result = d.test(logical_date=DATE)
    assert result.xcom("echo") == "06/05 ctx_run__echo__20260506 ctx_run echo"
