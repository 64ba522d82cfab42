"""Settings: defaults, then taskkit.toml, then TASKKIT__ env vars, then flags; all validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskkit.config import load_settings
from taskkit.errors import ConfigError


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"TASKKIT_HOME": str(home), **extra}


def test_defaults_follow_taskkit_home(tmp_path: Path) -> None:
    """Without a file, env vars or flags every setting has its documented default."""
    settings = load_settings(environ=_env(tmp_path))
    assert settings.home == tmp_path
    assert settings.core.dags_folder == tmp_path / "dags"
    assert settings.core.executor == "local"
    assert (settings.core.parallelism, settings.core.max_active_tasks_per_dag) == (32, 16)
    assert settings.core.max_active_runs_per_dag == 16
    assert settings.core.default_pool_task_slot_count == 128
    assert settings.core.dags_are_paused_at_creation is False
    assert settings.core.secret_key is None
    assert settings.database.sql_alchemy_conn == f"sqlite:///{tmp_path}/taskkit.db"
    assert settings.scheduler.dag_dir_list_interval == 30.0
    assert (settings.scheduler.heartbeat_sec, settings.scheduler.task_heartbeat_timeout) == (
        2.0,
        10.0,
    )
    assert {source for _, _, source in settings.describe()} == {"default"}


def test_home_defaults_to_tilde_taskkit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """TASKKIT_HOME defaults to ~/taskkit."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings(environ={}).home == tmp_path / "taskkit"


def test_file_then_env_then_flags_win_in_order(tmp_path: Path) -> None:
    """A flag beats an env var, which beats the file, which beats the default."""
    (tmp_path / "taskkit.toml").write_text(
        '[core]\nparallelism = 8\nexecutor = "sequential"\ndags_folder = "my_dags"\n'
        "[scheduler]\nheartbeat_sec = 0.5\n"
    )
    env = _env(tmp_path, TASKKIT__CORE__PARALLELISM="12", TASKKIT__CORE__EXECUTOR="local")
    settings = load_settings({"core.parallelism": 4, "core.executor": None}, environ=env)
    assert settings.core.parallelism == 4
    assert settings.core.executor == "local"
    assert settings.core.dags_folder == tmp_path / "my_dags"
    assert settings.scheduler.heartbeat_sec == 0.5
    sources = {name: source for name, _, source in settings.describe()}
    assert sources["core.parallelism"] == "flag"
    assert sources["core.executor"] == "env TASKKIT__CORE__EXECUTOR"
    assert sources["scheduler.heartbeat_sec"] == f"file {tmp_path / 'taskkit.toml'}"
    assert sources["core.max_active_runs_per_dag"] == "default"


def test_env_values_are_parsed_to_their_types(tmp_path: Path) -> None:
    """Env var strings become ints, floats and booleans."""
    env = _env(
        tmp_path,
        TASKKIT__CORE__DAGS_ARE_PAUSED_AT_CREATION="true",
        TASKKIT__SCHEDULER__PARSING_TIMEOUT="2.5",
        TASKKIT__CORE__DEFAULT_POOL_TASK_SLOT_COUNT="0",
    )
    settings = load_settings(environ=env)
    assert settings.core.dags_are_paused_at_creation is True
    assert settings.scheduler.parsing_timeout == 2.5
    assert settings.core.default_pool_task_slot_count == 0


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("TASKKIT__CORE__PARALLELISM", "lots", "integer"),
        ("TASKKIT__CORE__PARALLELISM", "0", "at least 1"),
        ("TASKKIT__CORE__EXECUTOR", "kubernetes", "local, sequential, celery"),
        ("TASKKIT__CORE__DAGS_ARE_PAUSED_AT_CREATION", "maybe", "true or false"),
        ("TASKKIT__SCHEDULER__HEARTBEAT_SEC", "-1", "greater than 0"),
        ("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", "mysql://x/y", "sqlite"),
    ],
)
def test_bad_env_value_names_setting_value_and_source(
    tmp_path: Path, var: str, value: str, fragment: str
) -> None:
    """A bad value's error names the setting, the value, the env var and what is expected."""
    name = var.removeprefix("TASKKIT__").replace("__", ".").lower()
    with pytest.raises(ConfigError) as info:
        load_settings(environ=_env(tmp_path, **{var: value}))
    message = str(info.value)
    for part in (name, repr(value), f"env {var}", fragment):
        assert part in message


def test_bad_file_value_names_the_file(tmp_path: Path) -> None:
    """A bad value in taskkit.toml is reported with the file's path."""
    (tmp_path / "taskkit.toml").write_text("[core]\nparallelism = true\n")
    with pytest.raises(ConfigError, match=r"core\.parallelism.*True.*taskkit\.toml"):
        load_settings(environ=_env(tmp_path))


def test_bad_flag_value_names_the_flag(tmp_path: Path) -> None:
    """A bad value from the command line is reported as coming from a flag."""
    with pytest.raises(ConfigError, match=r"core\.parallelism.*-3.*flag"):
        load_settings({"core.parallelism": -3}, environ=_env(tmp_path))


@pytest.mark.parametrize(
    "toml",
    ["[core]\nparalelism = 3\n", "[cor]\nparallelism = 3\n", "parallelism = 3\n"],
)
def test_unknown_keys_in_the_file_are_errors(tmp_path: Path, toml: str) -> None:
    """A misspelt key or section in taskkit.toml is an error naming it, not silently ignored."""
    (tmp_path / "taskkit.toml").write_text(toml)
    with pytest.raises(ConfigError, match="Unknown"):
        load_settings(environ=_env(tmp_path))


def test_unknown_env_var_is_an_error(tmp_path: Path) -> None:
    """A TASKKIT__ variable that names no setting is an error naming the variable."""
    with pytest.raises(ConfigError, match="TASKKIT__CORE__PARALELISM"):
        load_settings(environ=_env(tmp_path, TASKKIT__CORE__PARALELISM="3"))


def test_unknown_override_is_an_error(tmp_path: Path) -> None:
    """An override for a setting that does not exist is refused."""
    with pytest.raises(ConfigError, match=r"core\.nope"):
        load_settings({"core.nope": 1}, environ=_env(tmp_path))


def test_malformed_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    """A taskkit.toml that is not valid TOML is one ConfigError naming the file."""
    (tmp_path / "taskkit.toml").write_text("[core\n")
    with pytest.raises(ConfigError, match=r"taskkit\.toml"):
        load_settings(environ=_env(tmp_path))


def test_secret_key_is_hidden_in_describe_and_errors(tmp_path: Path) -> None:
    """The secret key is masked when listed, and never echoed in an error."""
    secret = "s" * 32
    settings = load_settings(environ=_env(tmp_path, TASKKIT__CORE__SECRET_KEY=secret))
    assert settings.core.secret_key == secret
    assert ("core.secret_key", "<hidden>", "env TASKKIT__CORE__SECRET_KEY") in settings.describe()
    assert secret not in repr(settings)
    with pytest.raises(ConfigError) as info:
        load_settings(environ=_env(tmp_path, TASKKIT__CORE__SECRET_KEY="short"))
    assert "short" not in str(info.value)


def test_every_setting_can_be_read_by_name(tmp_path: Path) -> None:
    """Settings.get reads each setting by its dotted name, as describe lists them."""
    settings = load_settings(environ=_env(tmp_path))
    rows = settings.describe()
    assert len({name for name, _, _ in rows}) == len(rows)
    for name, shown, _ in rows:
        if shown != "<hidden>":
            settings.get(name)  # every listed name reads back
    assert settings.get("core.parallelism") == 32
