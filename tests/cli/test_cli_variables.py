"""`taskkit variables`: set, get, list, delete, import and export; errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import Cli
from cryptography.fernet import Fernet


def test_set_get_list_delete(cli_any_db: Cli) -> None:
    """A variable set is got back, listed (secret-looking values as ***) and deleted."""
    cli = cli_any_db
    cli.ok("variables", "set", "region", "eu-west", "--description", "where we run")
    cli.ok("variables", "set", "api_token", "tok-123456")
    cli.ok("variables", "set", "cfg", '{"n": 1}', "--serialize-json")
    assert cli.ok("variables", "get", "region") == "eu-west\n"
    assert json.loads(cli.ok("variables", "get", "cfg", "--deserialize-json")) == {"n": 1}
    listed = json.loads(cli.ok("variables", "list", "-o", "json"))
    assert listed == [
        {"key": "api_token", "value": "***", "description": None},
        {"key": "cfg", "value": '{\n  "n": 1\n}', "description": None},
        {"key": "region", "value": "eu-west", "description": "where we run"},
    ]
    assert "tok-123456" not in cli.ok("variables", "list")
    cli.ok("variables", "delete", "region")
    assert cli.ok("variables", "get", "region", "--default", "none") == "none\n"


def test_the_environment_wins_in_get(cli_sqlite: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`variables get` reads TASKKIT_VAR_<KEY> first, as tasks do."""
    cli_sqlite.ok("variables", "set", "region", "stored")
    monkeypatch.setenv("TASKKIT_VAR_REGION", "from-env")
    assert cli_sqlite.ok("variables", "get", "region") == "from-env\n"


def test_errors_are_one_line(cli_sqlite: Cli) -> None:
    """An unknown key, bad JSON and a bad key each give one line on stderr and exit 1."""
    cli = cli_sqlite
    assert "Variable 'nope' does not exist" in cli.fails("variables", "get", "nope")
    assert "Variable 'nope' does not exist" in cli.fails("variables", "delete", "nope")
    assert "not valid JSON" in cli.fails("variables", "set", "k", "{x", "-j")
    assert "Variable key 'a b' is not valid" in cli.fails("variables", "set", "a b", "v")


def test_import_and_export(cli_any_db: Cli, tmp_path: Path) -> None:
    """import takes Airflow's format; export writes what import reads."""
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"a": "1", "b": {"value": [1, 2], "description": "list"}}))
    assert "Imported 2 variables: a, b." in cli_any_db.ok("variables", "import", str(source))
    out = tmp_path / "out.json"
    cli_any_db.ok("variables", "export", str(out))
    assert json.loads(out.read_text()) == {
        "a": 1,
        "b": {"value": [1, 2], "description": "list"},
    }


def test_a_malformed_import_file_is_one_line_and_imports_nothing(
    cli_sqlite: Cli, tmp_path: Path
) -> None:
    """A file with one bad entry fails in one line naming the file, and stores none of it."""
    path = tmp_path / "vars.json"
    path.write_text('{"ok": "1", "bad key": "2"}')
    line = cli_sqlite.fails("variables", "import", str(path))
    assert str(path) in line
    assert "'bad key'" in line
    path.write_text("{truncated")
    assert "is not valid JSON" in cli_sqlite.fails("variables", "import", str(path))
    assert cli_sqlite.ok("variables", "list") == "No variables.\n"


def test_a_wrong_fernet_key_is_one_line(cli_sqlite: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables stored under another key are refused in one line; nothing garbled is printed."""
    cli_sqlite.ok("variables", "set", "k", "secret-value")
    monkeypatch.setenv("TASKKIT__CORE__FERNET_KEY", Fernet.generate_key().decode())
    line = cli_sqlite.fails("variables", "get", "k")
    assert "Cannot decrypt variable 'k'" in line
    assert "Cannot decrypt" in cli_sqlite.fails("variables", "list")


def test_an_uninitialised_metastore_says_db_init(bare_cli: Cli) -> None:
    """Before `db init`, variables commands say to run it."""
    assert "taskkit db init" in bare_cli.fails("variables", "list")


READER_DAG = """
from taskkit import DAG, Variable, task
with DAG("reader"):
    @task
    def read():
        Variable.set("scratch", "only in this run")
        return Variable.get("region") + "/" + Variable.get("scratch")
    read()
"""


def test_dags_test_reads_the_metastore_and_writes_nothing_back(cli_sqlite: Cli) -> None:
    """`dags test` tasks see the stored variables; what they set stays in the test run."""
    cli_sqlite.ok("variables", "set", "region", "eu-west")
    cli_sqlite.write_dag("reader.py", READER_DAG)
    out = cli_sqlite.ok("dags", "test", "reader")
    assert "success" in out
    assert "scratch" not in cli_sqlite.ok("variables", "list")
    assert "eu-west/only in this run" in cli_sqlite.ok("tasks", "test", "reader", "read")
    assert cli_sqlite.ok("variables", "get", "scratch") == "only in this run\n"
