"""PythonVirtualenvOperator, @task.virtualenv, ExternalPythonOperator, @task.external_python."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from taskkit import (
    DAG,
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    EmptyOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
    dag,
    task,
)
from taskkit.authoring.venv_cache import VenvRecipe, pip_conf
from taskkit.errors import DagDefinitionError
from taskkit.states import State

SYSTEM_PYTHON = "/usr/bin/python3"
LOGICAL = dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TASKKIT_HOME", str(tmp_path))
    return tmp_path


def test_external_python_runs_the_source_there_and_hands_values_through() -> None:
    """Upstream values go in, the context's ds too; the return value is the task's XCom."""

    @dag
    def external() -> None:
        @task
        def numbers() -> list[int]:
            return [1, 2, 3]

        @task.external_python(python=SYSTEM_PYTHON)
        def total(values: list[int], scale: int, ds: str | None = None) -> dict[str, Any]:
            import importlib.util
            import sys

            print("running in", sys.executable)
            return {
                "sum": sum(values) * scale,
                "ds": ds,
                "python": sys.executable,
                "sees_taskkit": importlib.util.find_spec("taskkit") is not None,
            }

        @task
        def check(found: dict[str, Any]) -> int:
            return int(found["sum"])

        check(total(numbers(), scale=10))

    result = external().test(logical_date=LOGICAL)
    assert result.task_states["check"] is State.SUCCESS
    found = result.xcom("total")
    assert found == {
        "sum": 60,
        "ds": "2026-01-03",
        "python": SYSTEM_PYTHON,
        "sees_taskkit": False,
    }
    assert result.xcom("check") == 60
    assert f"running in {SYSTEM_PYTHON}" in result.logs("total")


def _where_am_i() -> dict[str, Any]:
    import importlib.util
    import sys

    return {"prefix": sys.prefix, "attrs": importlib.util.find_spec("attrs") is not None}


def test_virtualenv_without_requirements_is_isolated_and_cached(home: Path) -> None:
    """system_site_packages=False sees none of taskkit's packages; the second try reuses it."""
    with DAG("venv") as d:
        PythonVirtualenvOperator(
            task_id="where", python_callable=_where_am_i, system_site_packages=False
        )
    first = d.test()
    assert first.task_states["where"] is State.SUCCESS, first.logs("where")
    found = first.xcom("where")
    assert found["attrs"] is False
    venv = Path(found["prefix"])
    assert venv.parent == home / "venvs"
    marker = venv / "install_complete_marker.json"
    built = marker.stat().st_mtime_ns
    second = d.test()
    assert second.xcom("where") == found
    assert marker.stat().st_mtime_ns == built
    assert "Reusing the virtual environment" in second.logs("where")


def test_task_virtualenv_installs_its_requirements(home: Path) -> None:
    """A tiny package from the index is installed into the venv, not visible outside it."""

    @dag
    def venv_requirements() -> None:
        @task.virtualenv(requirements=["six"], system_site_packages=False)
        def use_six(word: str) -> str:
            import six

            return six.ensure_str(word.encode()) + "!"

        use_six("hello")

    started = time.monotonic()
    first = venv_requirements().test()
    assert first.task_states["use_six"] is State.SUCCESS, first.logs("use_six")
    assert first.xcom("use_six") == "hello!"
    built_in = time.monotonic() - started
    started = time.monotonic()
    assert venv_requirements().test().xcom("use_six") == "hello!"
    assert time.monotonic() - started < built_in  # reused, not built again
    assert len(list((home / "venvs").glob("venv-*.lock"))) == 1


def test_two_processes_building_one_venv_build_it_once(home: Path) -> None:
    script = (
        "from pathlib import Path\n"
        "from taskkit.authoring.venv_cache import VenvRecipe, ensure_venv\n"
        f"recipe = VenvRecipe({sys.executable!r}, (), False)\n"
        f"print(ensure_venv(recipe, Path({str(home)!r})))\n"
    )
    racers = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=120)[0] for r in racers]
    assert all(r.returncode == 0 for r in racers)
    assert sum("Creating" in o for o in outputs) == 1
    assert sum("Reusing" in o for o in outputs) == 1
    assert len({o.splitlines()[-1] for o in outputs}) == 1


def test_a_missing_python_version_fails_the_try_with_the_fix(home: Path) -> None:
    with DAG("old_python") as d:
        PythonVirtualenvOperator(
            task_id="old", python_callable=_where_am_i, python_version="2.5", retries=0
        )
    result = d.test()
    assert result.task_states["old"] is State.FAILED
    assert "no python2.5 interpreter on this machine's PATH" in result.logs("old")


def test_a_missing_external_python_and_a_failing_callable_fail_the_try() -> None:
    def boom() -> None:
        raise ValueError("broken inside")

    with DAG("external_errors") as d:
        ExternalPythonOperator(
            task_id="nowhere", python="/no/such/python", python_callable=_where_am_i
        )
        ExternalPythonOperator(task_id="boom", python=SYSTEM_PYTHON, python_callable=boom)
    result = d.test()
    assert result.task_states == {"nowhere": State.FAILED, "boom": State.FAILED}
    assert "'/no/such/python' is not an executable interpreter" in result.logs("nowhere")
    assert "ValueError: broken inside" in result.logs("boom")
    assert "boom() failed in /usr/bin/python3 with exit code 1" in result.logs("boom")


def test_callables_that_cannot_run_elsewhere_are_definition_errors() -> None:
    def wants_ti(ti: Any) -> None:
        return None

    with DAG("bad"):
        with pytest.raises(DagDefinitionError, match="not a lambda"):
            ExternalPythonOperator(task_id="a", python=SYSTEM_PYTHON, python_callable=lambda: 1)
        with pytest.raises(DagDefinitionError, match="asks for ti, which cannot be sent"):
            ExternalPythonOperator(task_id="b", python=SYSTEM_PYTHON, python_callable=wants_ti)
        with pytest.raises(DagDefinitionError, match="serializer must be one of"):
            PythonVirtualenvOperator(task_id="c", python_callable=_where_am_i, serializer="json")


def test_cloudpickle_serializer_carries_values_cloudpickle_can() -> None:
    """serializer="cloudpickle": here taskkit's own Python, which has cloudpickle installed."""

    @dag
    def clouds() -> None:
        @task.external_python(python=sys.executable, serializer="cloudpickle")
        def shift(when: dt.datetime) -> str:
            import datetime as dt

            return (when + dt.timedelta(days=1)).isoformat()

        shift(LOGICAL)

    assert clouds().test().xcom("shift") == "2026-01-04T00:00:00+00:00"


def test_python_version_picks_that_interpreter_for_the_venv(home: Path) -> None:
    def version() -> list[int]:
        import sys

        return list(sys.version_info[:2])

    with DAG("versioned") as d:
        PythonVirtualenvOperator(
            task_id="version",
            python_callable=version,
            python_version="3.11",
            system_site_packages=False,
        )
    assert d.test().xcom("version") == [3, 11]


def test_string_args_are_a_global_and_dill_needs_installing_where_it_runs() -> None:
    """string_args are `virtualenv_string_args` in the callable's globals (one per line, as
    Airflow); serializer="dill" works where dill is installed and names the fix where not."""

    def show_args(scale: int) -> list[str]:
        return [a * scale for a in virtualenv_string_args]  # type: ignore[name-defined]  # noqa: F821

    with DAG("strings") as d:
        ExternalPythonOperator(
            task_id="here",  # taskkit's own Python, where the tests installed dill
            python=sys.executable,
            python_callable=show_args,
            op_args=[2],
            string_args=[" a ", "b"],
            serializer="dill",
        )
        ExternalPythonOperator(
            task_id="system",
            python=SYSTEM_PYTHON,
            python_callable=show_args,
            op_args=[1],
            serializer="dill",
            retries=0,
        )
    result = d.test()
    assert result.xcom("here") == ["aa", "bb"]  # stripped, as Airflow reads them back
    assert result.task_states["system"] is State.FAILED
    assert f"{SYSTEM_PYTHON} cannot import dill; add 'dill' to requirements" in result.logs(
        "system"
    )
    with DAG("bad"), pytest.raises(DagDefinitionError, match="not one string"):
        ExternalPythonOperator(
            task_id="one", python=SYSTEM_PYTHON, python_callable=show_args, string_args="a"
        )


def test_index_urls_shape_the_venv_and_reach_pip(home: Path) -> None:
    """index_urls go into the venv's pip.conf (index, then extra indexes) and its cache key;
    a dill venv gets dill added to its requirements, as Airflow does."""

    extra = home / "empty-index"  # a local index with nothing in it: pip asks it, finds none
    extra.mkdir()

    @dag
    def indexed() -> None:
        @task.virtualenv(
            system_site_packages=False,
            serializer="dill",
            index_urls=["https://pypi.org/simple", extra.as_uri()],
            string_args=["x"],
        )
        def roundtrip(value: dict[str, int]) -> tuple[list[str], dict[str, int], str]:
            import sys

            import dill

            return virtualenv_string_args, value, dill.__name__ + " " + sys.prefix  # type: ignore[name-defined]  # noqa: F821

        roundtrip({"n": 1})

    result = indexed().test()
    assert result.task_states["roundtrip"] is State.SUCCESS, result.logs("roundtrip")
    args, value, where = result.xcom("roundtrip")
    assert (args, value) == (["x"], {"n": 1})
    venv = Path(where.split(" ", 1)[1])
    assert venv.parent == home / "venvs"
    config = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "global.index-url='https://pypi.org/simple'" in config
    assert f"global.extra-index-url='{extra.as_uri()}'" in config  # the venv's wins


def test_index_urls_are_part_of_the_venv_key() -> None:
    """Other indexes can give other packages: another venv. None keeps pip's own config."""
    plain = VenvRecipe(sys.executable, ("six",), False)
    assert plain.key != attrs.evolve(plain, index_urls=("https://pypi.org/simple",)).key
    assert pip_conf([]) == "[global]\nno-index = true\n"
    assert pip_conf(["a", "b", "c"]) == "[global]\nindex-url = a\nextra-index-url = b c\n"


def test_branching_in_another_python_follows_the_choice_made_there(home: Path) -> None:
    """BranchExternalPythonOperator, @task.branch_external_python, @task.branch_virtualenv and
    BranchPythonVirtualenvOperator: the callable runs elsewhere, its choice is followed here."""

    def pick(ds: str | None = None) -> str:
        return "left" if ds == "2026-01-03" else "right"

    def follow_nothing() -> None:
        return None

    with DAG("branch_elsewhere", start_date=LOGICAL) as d:
        classic = BranchExternalPythonOperator(
            task_id="classic", python=SYSTEM_PYTHON, python_callable=pick
        )

        @task.branch_external_python(python=SYSTEM_PYTHON)
        def decorated(n: int) -> list[str]:
            return ["left_2"] if n > 0 else []

        @task.branch_virtualenv
        def in_venv() -> str:
            return "right_3"

        venv = BranchPythonVirtualenvOperator(task_id="venv", python_callable=follow_nothing)
        ends = {n: EmptyOperator(task_id=n) for n in ("left", "right", "left_2", "right_2")}
        classic >> [ends["left"], ends["right"]]
        decorated(1) >> [ends["left_2"], ends["right_2"]]
        in_venv() >> [EmptyOperator(task_id="left_3"), EmptyOperator(task_id="right_3")]
        venv >> EmptyOperator(task_id="after_venv")
    states = d.test(logical_date=LOGICAL).task_states
    assert states["left"] is State.SUCCESS and states["right"] is State.SKIPPED
    assert states["left_2"] is State.SUCCESS and states["right_2"] is State.SKIPPED
    assert states["left_3"] is State.SKIPPED and states["right_3"] is State.SUCCESS
    assert states["after_venv"] is State.SKIPPED  # None: follow nothing
