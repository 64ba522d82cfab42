"""Jinja templates in operator fields: rendered lazily, recursively, with the DAG's settings."""

from __future__ import annotations

import datetime as dt
import importlib.util
import textwrap
from pathlib import Path

import pytest

from taskkit import DAG, BashOperator, EmptyOperator, PythonOperator, task
from taskkit.authoring.templating import render


def test_plain_values_come_back_as_the_same_objects() -> None:
    """Values without template markers are returned untouched (no copy, no Jinja)."""
    value = ["a", {"b": "c"}, 3]
    assert render(value, {}) is value


def test_strings_inside_lists_tuples_and_dicts_are_rendered() -> None:
    """Templates nested in containers are rendered and the container type kept."""
    rendered = render(["{{ x }}", ("{{ x }}!",), {"k": "{{ x + 1 }}"}], {"x": 1})
    assert rendered == ["1", ("1!",), {"k": "2"}]


def test_an_undefined_name_fails_loudly() -> None:
    """A typo in a template raises instead of rendering an empty string."""
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("{{ nope }}", {})


def test_attribute_access_and_statements_work() -> None:
    """`{{ params.x }}` and `{% if %}` blocks render as in Airflow."""
    assert render("{% if params.x %}{{ params.x }}{% endif %}", {"params": {"x": 5}}) == "5"


def _dag_file(tmp_path: Path, body: str) -> DAG:
    """Import a DAG file written to tmp_path, as the DAG processor would."""
    path = tmp_path / "dag_file.py"
    path.write_text(textwrap.dedent(body))
    spec = importlib.util.spec_from_file_location(f"tmpl_{tmp_path.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.d
    assert isinstance(dag, DAG)
    return dag


def test_undefined_names_are_strict_by_default_and_lenient_on_request() -> None:
    """An undefined name fails (Airflow 2 and 3); template_undefined=jinja2.Undefined empties it."""
    import jinja2

    with DAG("strict") as strict:
        a = EmptyOperator(task_id="a")
    with DAG("lenient", template_undefined=jinja2.Undefined):
        b = EmptyOperator(task_id="b")
    assert strict.template_undefined is None
    with pytest.raises(jinja2.UndefinedError):
        render("x{{ nope }}", {}, a)
    assert render("x{{ nope }}y", {}, b) == "xy"


def test_user_defined_macros_and_filters_reach_templates() -> None:
    """A DAG's user_defined_macros are template globals and its filters are filters."""
    with DAG("udm", user_defined_macros={"env": "prod"}, user_defined_filters={"up": str.upper}):
        op = EmptyOperator(task_id="a")
    assert render("{{ env | up }}-{{ 'x' | up }}", {}, op) == "PROD-X"


def test_native_rendering_returns_python_objects() -> None:
    """With render_template_as_native_obj a template yields a list, not its string."""
    with DAG("native", render_template_as_native_obj=True):
        native = EmptyOperator(task_id="a")
        as_text = EmptyOperator(task_id="b", render_template_as_native_obj=False)
    assert render("{{ [1, 2] + [n] }}", {"n": 3}, native) == [1, 2, 3]
    assert render("{{ [1, 2] + [n] }}", {"n": 3}, as_text) == "[1, 2, 3]"


def test_airflow_date_filters() -> None:
    """`{{ d | ds }}`, `| ts_nodash` and friends format dates as Airflow's filters do."""
    when = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    out = render("{{ d | ds }} {{ d | ds_nodash }} {{ d | ts_nodash_with_tz }}", {"d": when})
    assert out == "2026-05-06 20260506 20260506T070809+0000"


def test_a_template_ext_field_is_read_from_the_dag_folder_and_rendered(tmp_path: Path) -> None:
    """A bash_command ending in .sh is a script beside the DAG file, rendered, then run."""
    (tmp_path / "hello.sh").write_text('echo "run {{ run_id }} on {{ ds }}"\n')
    d = _dag_file(
        tmp_path,
        """
        from taskkit import DAG, BashOperator
        with DAG("tmpl_ext") as d:
            BashOperator(task_id="hello", bash_command="hello.sh")
        """,
    )
    result = d.test(logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.timezone.utc))
    assert result.state == "success"
    assert result.xcom("hello").startswith("run ") and result.xcom("hello").endswith(
        " on 2026-03-04"
    )


def test_template_searchpath_is_searched_after_the_dag_folder(tmp_path: Path) -> None:
    """A template file missing from the DAG folder is found in template_searchpath."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "count.sh").write_text("echo {{ params.n + 1 }}\n")
    with DAG("tmpl_path", template_searchpath=str(scripts), params={"n": 41}) as d:
        BashOperator(task_id="count", bash_command="count.sh")
    assert d.test().xcom("count") == "42"


def test_templates_dict_is_rendered_and_handed_to_the_callable() -> None:
    """PythonOperator and @task get `templates_dict` rendered, as the context value of that name."""

    def read(templates_dict: dict[str, str]) -> str:
        return templates_dict["day"]

    @task(templates_dict={"day": "{{ macros.ds_add(ds, 1) }}"})
    def read_task(**context: object) -> object:
        return context["templates_dict"]

    with DAG("tmpl_dict") as d:
        PythonOperator(
            task_id="op", python_callable=read, templates_dict={"day": "{{ ds_nodash }}"}
        )
        read_task()
    result = d.test(logical_date=dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc))
    assert result.xcom("op") == "20260131"
    assert result.xcom("read_task") == {"day": "2026-02-01"}


def test_a_missing_template_file_fails_the_try_naming_the_folders(tmp_path: Path) -> None:
    """A .sh bash_command with no such file fails the try with where it was looked for."""
    with DAG("tmpl_missing", template_searchpath=str(tmp_path)) as d:
        BashOperator(task_id="gone", bash_command="gone.sh")
    result = d.test()
    assert result.task_states["gone"] == "failed"
    logs = result.logs("gone")
    assert "TemplateFileNotFoundError: Template file 'gone.sh' is not in" in logs
    assert str(tmp_path) in logs
