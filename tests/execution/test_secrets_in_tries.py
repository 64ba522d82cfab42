"""Tries under the scheduler read and write variables and connections in the metastore."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

DAG_FILE = """
import datetime as dt
import logging
from zoneinfo import ZoneInfo
from taskkit import BashOperator, Connection, DAG, Variable, task


class DateTime(dt.datetime):
    '''Stands in for pendulum.DateTime: an aware datetime subclass.'''


with DAG("secrets", start_date=DateTime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),
         schedule=None):

    @task
    def use() -> str:
        conn = Connection.get("warehouse")
        print(f"login {conn.login} with {conn.password} to {conn.host}")
        print("token", Variable.get("api_token"))
        logging.getLogger("etl").warning("logged token %s", Variable.get("api_token"))
        Variable.set("written_by_task", Variable.get("cfg", deserialize_json=True)["n"] + 1)
        return conn.host

    echo = BashOperator(
        task_id="echo",
        bash_command="echo {{ var.value.region }} {{ conn.warehouse.port }} "
        "{{ conn.warehouse.password }} {{ var.json.cfg.n }} $FROM_ENV",
        env={"FROM_ENV": "{{ var.value.from_env }}"},
        do_xcom_push=False,  # its output holds the password: an XCom is stored as it is
    )
    use() >> echo
"""


def _taskkit(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT")}
    clean["TASKKIT_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "taskkit", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("executor", "key_in_toml"), [("local", False), ("sequential", True)])
def test_tries_read_and_write_the_metastore_and_mask_secrets(
    tmp_path: Path, executor: str, key_in_toml: bool
) -> None:
    """Values set with the CLI reach tasks and templates; a task's Variable.set is stored;
    the password and the secret variable are *** in the log files. The Fernet key may be
    the key file or core.fernet_key in taskkit.toml."""
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    if key_in_toml:
        key = Fernet.generate_key().decode()
        (home / "taskkit.toml").write_text(f'[core]\nfernet_key = "{key}"\n')
    (home / "dags" / "warehouse_dag.py").write_text(textwrap.dedent(DAG_FILE))
    _taskkit(home, "db", "init")
    _taskkit(home, "variables", "set", "api_token", "tok-0123456789")
    _taskkit(home, "variables", "set", "region", "eu-west")
    _taskkit(home, "variables", "set", "cfg", '{"n": 41}', "-j")
    uri = "postgres://etl:pw-s3cr3t-99@db.example:6543/w"
    _taskkit(home, "connections", "add", "warehouse", "--conn-uri", uri)
    _taskkit(home, "dags", "trigger", "secrets")
    env = {"TASKKIT_VAR_FROM_ENV": "env-wins"}
    _taskkit(home, "scheduler", "--exit-when-idle", "--executor", executor, env=env)

    assert _taskkit(home, "variables", "get", "written_by_task") == "42\n"
    logs = {p.parent.name: p.read_text() for p in (home / "logs").rglob("*.log")}
    assert "login etl with *** to db.example" in logs["use"]
    assert "token ***" in logs["use"]
    assert "logged token ***" in logs["use"]
    assert "eu-west 6543 *** 41 env-wins" in logs["echo"]
    for text in logs.values():
        assert "pw-s3cr3t-99" not in text
        assert "tok-0123456789" not in text
    assert (home / "fernet_key").exists() is not key_in_toml
    stored = b"".join(p.read_bytes() for p in home.glob("taskkit.db*"))  # the WAL too
    assert b"pw-s3cr3t-99" not in stored
    assert b"tok-0123456789" not in stored
