"""`taskkit db` and `taskkit config`: schema management and the effective settings."""

from __future__ import annotations

import json

import pytest
from cli_harness import Cli


def test_init_check_upgrade_and_reset(cli_any_db: Cli) -> None:
    """After init, check passes; upgrade is a no-op; reset --yes drops custom pools."""
    assert "OK:" in cli_any_db.ok("db", "check")
    cli_any_db.ok("db", "upgrade")
    cli_any_db.ok("pools", "set", "extra", "3")
    assert "Reset" in cli_any_db.ok("db", "reset", "--yes")
    pools = json.loads(cli_any_db.ok("pools", "list", "-o", "json"))
    assert [p["name"] for p in pools] == ["default_pool"]


def test_commands_on_an_uninitialised_metastore_say_run_db_init(bare_cli: Cli) -> None:
    """Every metastore command on a fresh home fails with one line pointing to `db init`."""
    for args in (
        ("db", "check"),
        ("dags", "list"),
        ("pools", "list"),
        ("runs", "list", "x"),
        ("dags", "trigger", "x"),
    ):
        line = bare_cli.fails(*args)
        assert "run `taskkit db init`" in line, args


def test_reset_without_yes_asks_and_aborts_on_no(cli_sqlite: Cli) -> None:
    """`db reset` without --yes asks first; answering no aborts with exit 1 and keeps the data."""
    cli_sqlite.ok("pools", "set", "extra", "3")
    result = cli_sqlite("db", "reset", input="n\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "error: aborted"
    assert "extra" in cli_sqlite.ok("pools", "list")


def test_config_list_shows_values_and_sources(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config list -o json` gives every setting with its value and where it came from."""
    monkeypatch.setenv("TASKKIT__CORE__PARALLELISM", "7")
    rows = {r["name"]: r for r in json.loads(bare_cli.ok("config", "list", "-o", "json"))}
    assert rows["core.parallelism"] == {
        "name": "core.parallelism",
        "value": "7",
        "source": "env TASKKIT__CORE__PARALLELISM",
    }
    assert rows["core.executor"]["source"] == "default"
    assert "core.dags_folder" in bare_cli.ok("config", "list")


def test_config_get_value_prints_one_setting_as_airflow_does(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config get-value SECTION KEY` prints the effective value alone, for scripts; a secret
    stays hidden and a misspelt name gets a suggestion."""
    monkeypatch.setenv("TASKKIT__CORE__PARALLELISM", "7")
    assert bare_cli.ok("config", "get-value", "core", "parallelism") == "7\n"
    assert bare_cli.ok("config", "get-value", "core", "executor") == "local\n"
    monkeypatch.setenv("TASKKIT__CORE__SECRET_KEY", "k" * 40)
    assert bare_cli.ok("config", "get-value", "core", "secret_key") == "<hidden>\n"
    error = bare_cli.fails("config", "get-value", "core", "paralelism", code=2)
    assert "No setting 'core.paralelism'. Did you mean 'core.parallelism'?" in error


def test_a_bad_setting_is_one_line(bare_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad environment value fails any command with one line naming the setting."""
    monkeypatch.setenv("TASKKIT__CORE__PARALLELISM", "lots")
    assert "core.parallelism" in bare_cli.fails("config", "list")


def test_reset_is_refused_while_a_scheduler_holds_the_metastore(cli_any_db: Cli) -> None:
    """`db reset --yes` next to a running scheduler names it and refuses; --force resets anyway."""
    import subprocess
    import sys

    from taskkit.config import load_settings

    url = load_settings().database.sql_alchemy_conn
    script = (
        "import sys, time\nfrom taskkit.metastore import Metastore\n"
        "from taskkit.metastore.lease import scheduler_lease\n"
        "store = Metastore.open(sys.argv[1])\n"
        "with scheduler_lease(store.engine):\n    print('held', flush=True)\n    time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        cli_any_db.ok("pools", "set", "extra", "3")
        line = cli_any_db.fails("db", "reset", "--yes")
        assert f"pid {holder.pid}" in line and "--force" in line
        assert "extra" in cli_any_db.ok("pools", "list")
        cli_any_db.ok("db", "reset", "--yes", "--force")
    finally:
        holder.kill()
        holder.wait()
    assert "extra" not in cli_any_db.ok("pools", "list")
