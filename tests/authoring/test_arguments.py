"""Task and DAG arguments: implemented ones apply, Airflow-only ones warn, typos fail."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit import DAG, BashOperator, EmptyOperator, dag, task
from taskkit.authoring.arguments import TASK_DEFAULTS
from taskkit.errors import DagDefinitionError, InvalidTaskParameterError, UnknownDefaultArgError

START = dt.datetime(2026, 1, 1)


def test_a_misspelt_default_args_key_fails_with_a_did_you_mean() -> None:
    """`retires` in default_args is a DagDefinitionError suggesting `retries`."""
    with pytest.raises(
        UnknownDefaultArgError, match=r"unknown key 'retires'\. Did you mean 'retries'"
    ):
        DAG("typo", default_args={"retires": 3})
    with pytest.raises(DagDefinitionError, match=r"'on_failure_calback'.*'on_failure_callback'"):
        DAG("typo2", default_args={"on_failure_calback": print})


def test_an_airflow_only_default_args_key_becomes_a_dag_warning() -> None:
    """`email_on_failure` and `sla` are accepted and leave one warning each on the DAG."""
    with DAG("warned", default_args={"email_on_failure": True, "sla": 5, "retries": 2}) as d:
        op = EmptyOperator(task_id="t")
    assert op.retries == 2
    assert len(d.warnings) == 2
    assert "'email_on_failure' is an Airflow setting taskkit does not implement" in d.warnings[0]
    assert "taskkit sends no email" in d.warnings[0]
    assert "'sla'" in d.warnings[1]


def test_implemented_default_args_reach_every_new_task_option() -> None:
    """Callbacks, depends_on_past, do_xcom_push, docs… set in default_args land on each task."""

    def cb(context: object) -> None: ...

    defaults = {
        "depends_on_past": True,
        "on_failure_callback": cb,
        "on_success_callback": [cb, cb],
        "do_xcom_push": False,
        "multiple_outputs": True,
        "max_active_tis_per_dagrun": 2,
        "map_index_template": "{{ x }}",
        "doc_md": "# docs",
        "task_display_name": "Nice",
        "queue": "q",
    }
    with DAG("applied", default_args=defaults) as d:
        op = EmptyOperator(task_id="t")
        own = EmptyOperator(task_id="u", on_failure_callback=None, do_xcom_push=True)
    assert d.warnings == []
    assert op.depends_on_past is True
    assert op.on_failure_callback == [cb]
    assert op.on_success_callback == [cb, cb]
    assert op.on_retry_callback == []
    assert (op.do_xcom_push, op.multiple_outputs, op.max_active_tis_per_dagrun) == (False, True, 2)
    assert (op.map_index_template, op.doc_md, op.task_display_name) == ("{{ x }}", "# docs", "Nice")
    assert (own.on_failure_callback, own.do_xcom_push) == ([], True)


def test_every_implemented_task_argument_is_a_real_keyword() -> None:
    """Each key of the implemented table can be passed to an operator directly."""
    with DAG("kw") as d:
        EmptyOperator(task_id="t", **dict(TASK_DEFAULTS))
    assert d.warnings == []


def test_wait_for_downstream_implies_depends_on_past() -> None:
    """As in Airflow, `wait_for_downstream=True` turns on depends_on_past."""
    with DAG("wfd"):
        op = EmptyOperator(task_id="t", wait_for_downstream=True)
    assert op.depends_on_past is True


def test_bad_values_of_new_task_options_fail_naming_the_task() -> None:
    """A callback that is not callable, or a non-bool flag, fails at definition."""
    with DAG("badopts"):
        with pytest.raises(InvalidTaskParameterError, match="task 't': on_retry_callback must be"):
            EmptyOperator(task_id="t", on_retry_callback="notify")
        with pytest.raises(
            InvalidTaskParameterError, match="depends_on_past must be True or False"
        ):
            EmptyOperator(task_id="t", depends_on_past="yes")
        with pytest.raises(
            InvalidTaskParameterError, match="max_active_tis_per_dagrun must be >= 1"
        ):
            EmptyOperator(task_id="t", max_active_tis_per_dagrun=0)


def test_operator_arguments_airflow_only_warn_and_typos_fail() -> None:
    """`email=` on an operator warns once per DAG; `retires=` fails suggesting `retries`."""
    with DAG("opargs") as d:
        BashOperator(task_id="a", bash_command="true", email="x@y.z", postgres_conn_id="pg")
        BashOperator(task_id="b", bash_command="true", email="x@y.z")
        with pytest.raises(InvalidTaskParameterError, match=r"'retires'\. Did you mean 'retries'"):
            EmptyOperator(task_id="c", retires=1)
    assert len(d.warnings) == 2
    assert "argument 'email' (first on task 'a')" in d.warnings[0]
    assert "'postgres_conn_id'" in d.warnings[1]


def test_task_function_options_go_through_the_same_check() -> None:
    """`@task(multiple_outputs=True, email=...)` stores the option and warns about email."""

    @task(multiple_outputs=True, email="a@b.c")
    def f() -> dict[str, int]:
        return {"a": 1}

    with DAG("taskfn") as d:
        f()
    assert d.get_task("f").multiple_outputs is True
    assert len(d.warnings) == 1


def test_default_args_start_date_is_the_dags_start_date() -> None:
    """As in Airflow, `default_args={"start_date": ...}` sets the DAG's start_date."""
    d = DAG("dflt_start", schedule="@daily", default_args={"start_date": START})
    assert d.start_date == START


def test_dag_arguments_are_stored_and_checked() -> None:
    """doc_md, display name, owner links, timeout, callbacks and template options are kept."""

    def cb(context: object) -> None: ...

    d = DAG(
        "dagargs",
        doc_md="# hi",
        dag_display_name="Nice DAG",
        owner_links={"ops": "https://example.com/ops"},
        dagrun_timeout=dt.timedelta(hours=1),
        on_failure_callback=cb,
        on_success_callback=[cb],
        user_defined_macros={"answer": 42},
        user_defined_filters={"twice": lambda v: v * 2},
        render_template_as_native_obj=True,
        template_searchpath="/tmp",
        tags=["a", "b"],
        description="desc",
    )
    assert (d.doc_md, d.dag_display_name, d.description) == ("# hi", "Nice DAG", "desc")
    assert d.owner_links == {"ops": "https://example.com/ops"}
    assert d.dagrun_timeout == dt.timedelta(hours=1)
    assert (d.on_failure_callback, d.on_success_callback) == ([cb], [cb])
    assert d.user_defined_macros == {"answer": 42}
    assert d.render_template_as_native_obj is True
    assert (d.template_searchpath, d.tags) == (["/tmp"], ["a", "b"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": "etl"}, "tags must be a list of strings"),
        ({"tags": ["ok", 3]}, "tags must be a list of strings; 3 is not a string"),
        ({"dagrun_timeout": 60}, "dagrun_timeout must be a positive datetime.timedelta"),
        ({"owner_links": {"ops": "ftp://x"}}, "owner_links\\['ops'\\] must be an http"),
        ({"on_failure_callback": "page"}, "on_failure_callback must be a callable"),
        ({"user_defined_macros": [1]}, "user_defined_macros must be a dict"),
        ({"template_undefined": "strict"}, "template_undefined must be a class"),
        ({"doc_md": 5}, "doc_md must be a string"),
        ({"schedul": "@daily"}, "unknown argument 'schedul'. Did you mean 'schedule'"),
    ],
)
def test_bad_dag_arguments_fail_with_one_clear_line(
    kwargs: dict[str, object], message: str
) -> None:
    """Each bad DAG argument is a DagDefinitionError naming the DAG and the argument."""
    with pytest.raises(DagDefinitionError, match=f"DAG 'badargs': {message}"):
        DAG("badargs", **kwargs)  # type: ignore[arg-type]


def test_airflow_only_dag_arguments_warn() -> None:
    """`access_control=` and `sla_miss_callback=` on a DAG are accepted with a warning each."""
    d = DAG("dagwarn", access_control={"role": {"can_read"}}, sla_miss_callback=print)
    assert len(d.warnings) == 2
    assert "'access_control' is an Airflow setting" in d.warnings[0]


def test_airflow_2_argument_names_apply_as_airflow_3_names() -> None:
    """schedule_interval, timetable, concurrency (DAG), task_concurrency and provide_context
    (tasks, default_args, a TaskGroup's default_args) are Airflow 2's names of what Airflow 3
    calls schedule, max_active_tasks and max_active_tis_per_dag, or of nothing: an Airflow 2
    file ports with its imports changed only, and nothing is left to warn about."""
    from taskkit import CronTriggerTimetable, PythonOperator, TaskGroup

    with DAG(
        "airflow2_args",
        schedule_interval="@hourly",
        concurrency=3,
        start_date=dt.datetime(2026, 1, 1),
        default_args={"task_concurrency": 2, "provide_context": True},
    ) as d:
        inherits = EmptyOperator(task_id="inherits")
        own = PythonOperator(
            task_id="own", python_callable=lambda ds: ds, provide_context=True, task_concurrency=1
        )
        with TaskGroup("group", default_args={"task_concurrency": 4}):
            grouped = EmptyOperator(task_id="grouped")
    assert (d.schedule, d.max_active_tasks, d.warnings) == ("@hourly", 3, [])
    assert [t.max_active_tis_per_dag for t in (inherits, own, grouped)] == [2, 1, 4]
    when = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    assert d.test(logical_date=when).xcom("own") == "2026-03-01"
    timetable = CronTriggerTimetable("0 6 * * *", timezone="UTC")
    assert DAG("airflow2_timetable", timetable=timetable).schedule is timetable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "@daily", "schedule_interval": "@hourly"}, "'schedule' is given too"),
        ({"schedule_interval": "@daily", "timetable": "@hourly"}, "'schedule_interval' is given"),
        ({"max_active_tasks": 2, "concurrency": 3}, "'concurrency' is Airflow 2's name"),
        ({"default_args": {"task_concurrency": 1, "max_active_tis_per_dag": 2}}, "default_args"),
    ],
)
def test_one_setting_under_both_airflow_names_is_one_clear_error(
    kwargs: dict[str, object], message: str
) -> None:
    """Given under Airflow 2's and Airflow 3's names at once, a setting is refused, naming both."""
    with pytest.raises(DagDefinitionError, match=message):
        DAG("both_names", **kwargs)  # type: ignore[arg-type]
    with DAG("task_both_names"), pytest.raises(DagDefinitionError, match="'task_concurrency'"):
        EmptyOperator(task_id="t", task_concurrency=1, max_active_tis_per_dag=2)


def test_a_dag_functions_docstring_is_its_doc_md() -> None:
    """As in Airflow, `@dag` takes doc_md from the function's docstring unless given."""

    @dag
    def documented() -> None:
        """Loads rows.

        More words.
        """

    @dag(doc_md="own")
    def overridden() -> None:
        """Not this."""

    assert "More words." in (documented().doc_md or "")
    assert overridden().doc_md == "own"
