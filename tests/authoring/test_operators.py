"""The built-in operators run their work and report values, skips and failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from taskkit import DAG, BashOperator, EmptyOperator, PythonOperator, get_current_context, task
from taskkit.authoring.decorators import XComArg
from taskkit.errors import InvalidTaskParameterError
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


def test_a_tasks_output_in_a_template_field_is_its_upstream_and_its_value() -> None:
    """As in Airflow, a classic operator's templated argument may be another task's output:
    the edge is added and the try gets the value, used as pushed (not rendered as a template),
    while the field's own templates still render."""

    @task(multiple_outputs=True)
    def plan() -> dict[str, str]:
        return {"command": "echo '{{ ds }}' made", "who": "world"}

    with DAG("outputs") as d:
        planned = plan()
        run = BashOperator(task_id="run", bash_command=planned["command"])
        greet = PythonOperator(
            task_id="greet",
            python_callable=lambda who, day: f"hello {who} on {day}",
            op_kwargs={"who": planned["who"], "day": "{{ ds }}"},
        )
    assert run.upstream_task_ids == {"plan"} and greet.upstream_task_ids == {"plan"}
    result = d.test(logical_date=DATE)
    assert result.xcom("run") == "{{ ds }} made"
    assert result.xcom("greet") == "hello world on 2026-03-04"
    assert isinstance(run.bash_command, XComArg)  # the DAG's task itself keeps the output


def test_bash_output_processor_turns_the_last_line_into_the_value() -> None:
    """`output_processor=json.loads` with `multiple_outputs` pushes each key (Airflow 3)."""
    with DAG("bash_json") as d:
        BashOperator(
            task_id="count",
            bash_command='echo working; echo \'{"files": 3, "folder": "in"}\'',
            output_processor=json.loads,
            multiple_outputs=True,
        )

        @task.bash(output_processor=lambda line: line.upper())
        def shout() -> str:
            return "echo quiet"

        shout()
    result = d.test()
    assert result.xcom("count") == {"files": 3, "folder": "in"}
    assert result.xcom("count", key="files") == 3
    assert result.xcom("shout") == "QUIET"


def test_a_bad_output_processor_fails_where_the_dag_is_defined() -> None:
    with DAG("bash_bad"), pytest.raises(InvalidTaskParameterError) as err:
        BashOperator(task_id="b", bash_command="true", output_processor="json")
    assert str(err.value).startswith("DAG 'bash_bad', task 'b': output_processor must be callable")


def test_templates_exts_reads_matching_values_as_template_files(tmp_path: Path) -> None:
    """`templates_exts=[".sql"]`: a templated value ending in .sql is a file, read and rendered."""
    (tmp_path / "query.sql").write_text("select * from t where day = '{{ ds }}'")

    def show(templates_dict: dict[str, str], sql: str) -> list[str]:
        return [templates_dict["query"], sql]

    with DAG("files", template_searchpath=str(tmp_path)) as d:
        PythonOperator(
            task_id="classic",
            python_callable=show,
            templates_dict={"query": "query.sql"},
            op_kwargs={"sql": "query.sql"},
            templates_exts=[".sql"],
        )
        PythonOperator(task_id="plain", python_callable=lambda: "query.sql")
    expected = "select * from t where day = '2026-03-04'"
    result = d.test(logical_date=DATE)
    assert result.xcom("classic") == [expected, expected]
    assert result.xcom("plain") == "query.sql"  # no templates_exts: a value like any other
    with DAG("files_bad"), pytest.raises(InvalidTaskParameterError, match="templates_exts"):
        PythonOperator(task_id="p", python_callable=print, templates_exts=".sql")


def test_an_async_callable_is_awaited() -> None:
    """An `async def` task function runs to its end (Airflow 3.1+); its value is the XCom."""

    async def fetch(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    with DAG("async_py") as d:
        PythonOperator(task_id="classic", python_callable=fetch, op_args=[2])
        task(fetch).override(task_id="decorated")(5)
    result = d.test()
    assert (result.xcom("classic"), result.xcom("decorated")) == (4, 10)


def test_render_template_renders_as_the_tasks_fields_are() -> None:
    """`context["task"].render_template(...)`, as Airflow's tutorial calls it."""

    @task
    def show() -> object:
        context = get_current_context()
        return context["task"].render_template(["{{ dag.dag_id }}", {"d": "{{ ds }}"}, 3], context)

    with DAG("render_tpl") as d:
        show()
    result = d.test(logical_date=DATE)
    assert result.xcom("show") == ["render_tpl", {"d": "2026-03-04"}, 3]


def test_an_airflow_only_context_value_asked_for_is_a_dag_warning() -> None:
    """Airflow 3.3's `asset_state_store` is not provided: the DAG says so, once, instead of
    the function silently getting None."""

    def load(asset_state_store: object = None, ds: str | None = None) -> bool:
        return asset_state_store is None and ds is not None

    with DAG("state_store") as d:
        PythonOperator(task_id="load", python_callable=load)
        task(load).override(task_id="again")()
    assert d.warnings == [
        "DAG 'state_store': context value 'asset_state_store' (asked for by task 'load') is an "
        "Airflow value taskkit does not provide; the function gets its parameter's default."
    ]
    assert d.test().xcom("load") is True


def test_iterating_a_tasks_output_where_the_dag_is_written_is_a_clear_error() -> None:
    """`op_kwargs=t.output["k"]` (a value where a dict belongs) once looped forever through
    XComArg.__getitem__; it is one TypeError saying what to do."""

    @task
    def plan() -> dict[str, str]:
        return {"who": "world"}

    with DAG("iterated"), pytest.raises(TypeError, match="cannot be iterated where the DAG"):
        PythonOperator(task_id="greet", python_callable=print, op_kwargs=plan()["who"])
