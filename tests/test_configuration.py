"""`from taskkit import conf`: Airflow's `airflow.configuration.conf` over taskkit's settings."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from taskkit import DAG, AirflowConfigException, AirflowException, conf, task


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TASKKIT_HOME of the test's own, with no TASKKIT__ variables from the caller."""
    monkeypatch.setenv("TASKKIT_HOME", str(tmp_path))
    for name in [n for n in os.environ if n.startswith("TASKKIT__")]:
        monkeypatch.delenv(name)
    return tmp_path


def test_get_gives_the_effective_value_as_config_get_value_prints_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defaults, then taskkit.toml, then TASKKIT__ variables, read at each call, as text."""
    assert conf.get("core", "parallelism") == "32"
    (home / "taskkit.toml").write_text("[core]\nparallelism = 12\n")
    assert conf.get("core", "parallelism") == "12"
    monkeypatch.setenv("TASKKIT__CORE__PARALLELISM", "7")
    assert conf.get("CORE", "Parallelism") == "7"  # names are case-insensitive, as in Airflow
    assert conf.getint("core", "parallelism") == 7
    assert conf.getfloat("scheduler", "heartbeat_sec") == 2.0
    assert conf.getboolean("core", "dags_are_paused_at_creation") is False
    assert conf.get("core", "dags_folder") == str(home / "dags")
    assert conf.get("core", "secret_key_file") == ""  # unset


def test_a_setting_taskkit_lacks_is_the_fallback_or_one_clear_error() -> None:
    """Airflow's own sections and sections of your own: the fallback, else an error naming
    the nearest setting and what to do instead."""
    assert conf.get("webserver", "base_url", fallback="http://localhost") == "http://localhost"
    assert conf.getint("my_team", "retries", fallback=3) == 3
    assert conf.getboolean("my_team", "enabled", fallback=None) is None
    assert not conf.has_option("webserver", "base_url")
    assert conf.has_option("core", "executor")
    with pytest.raises(AirflowConfigException, match=r"Did you mean 'core\.parallelism'") as info:
        conf.get("core", "paralelism")
    assert "taskkit config list" in str(info.value)
    assert isinstance(info.value, AirflowException)  # `except AirflowException` catches it


def test_a_value_that_is_not_the_asked_type_names_the_setting() -> None:
    """getint, getfloat and getboolean convert as Airflow does, or say which setting is not."""
    with pytest.raises(AirflowConfigException, match=r"core\.executor = 'local' is not an integer"):
        conf.getint("core", "executor")
    with pytest.raises(AirflowConfigException, match="is not a bool"):
        conf.getboolean("core", "parallelism")
    with pytest.raises(AirflowConfigException, match="is not a number"):
        conf.getfloat("celery", "default_queue")


def test_secrets_are_never_handed_to_dag_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret key, the Fernet key and Flower's password are refused, even when set, and
    left out of getsection."""
    monkeypatch.setenv("TASKKIT__CORE__SECRET_KEY", "k" * 32)
    with pytest.raises(AirflowConfigException, match=r"core\.secret_key is a secret"):
        conf.get("core", "secret_key")
    with pytest.raises(AirflowConfigException, match="secret"):
        conf.get("core", "fernet_key", fallback="x")
    section = conf.getsection("core")
    assert section is not None
    assert section["parallelism"] == "32"
    assert "secret_key" not in section and "fernet_key" not in section
    assert conf.getsection("webserver") is None


def test_a_dag_file_reading_conf_where_it_is_written_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DAG built from conf values (a common Airflow pattern) gets taskkit's settings."""
    monkeypatch.setenv("TASKKIT__CORE__MAX_ACTIVE_TASKS_PER_DAG", "4")

    @task
    def report(limit: int) -> int:
        return limit

    with DAG(
        "from_conf",
        start_date=dt.datetime(2026, 1, 1),
        max_active_tasks=conf.getint("core", "max_active_tasks_per_dag"),
    ) as dag:
        report(conf.getint("core", "max_active_tasks_per_dag"))
    assert dag.max_active_tasks == 4
    assert dag.test().xcom("report") == 4
