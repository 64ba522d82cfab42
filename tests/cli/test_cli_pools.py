"""`taskkit pools`: list, set, delete, import and export, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from cli_harness import Cli

EXAMPLES_POOLS = Path(__file__).resolve().parents[2] / "examples" / "pools.json"


def test_set_then_list_as_json(cli_any_db: Cli) -> None:
    """`pools set` creates a pool; `pools list -o json` shows the contract's keys."""
    assert cli_any_db.ok("pools", "set", "db", "4", "The database") == "Pool 'db' has 4 slots.\n"
    rows = json.loads(cli_any_db.ok("pools", "list", "-o", "json"))
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"default_pool", "db"}
    assert {"name", "slots", "description", "running", "queued"} <= set(by_name["db"])
    assert (by_name["db"]["slots"], by_name["db"]["description"]) == (4, "The database")
    assert (by_name["db"]["running"], by_name["db"]["queued"]) == (0, 0)
    cli_any_db.ok("pools", "set", "db", "6")  # no description: the old one stays
    rows = json.loads(cli_any_db.ok("pools", "list", "-o", "json"))
    [db] = [r for r in rows if r["name"] == "db"]
    assert (db["slots"], db["description"]) == (6, "The database")


def test_pool_errors_are_one_line(cli_sqlite: Cli) -> None:
    """Negative slots, deleting default_pool and deleting an unknown pool each fail clearly."""
    assert "slots from 0 to" in cli_sqlite.fails("pools", "set", "db", "-1")
    assert "default_pool cannot be deleted" in cli_sqlite.fails("pools", "delete", "default_pool")
    assert "No pool 'ghost'" in cli_sqlite.fails("pools", "delete", "ghost")
    assert "not a valid integer" in cli_sqlite.fails("pools", "set", "db", "many", code=2)
    cli_sqlite.ok("pools", "set", "db", "1")
    assert cli_sqlite.ok("pools", "delete", "db") == "Deleted pool 'db'.\n"


def test_import_the_examples_file_and_export_round_trip(cli_any_db: Cli, tmp_path: Path) -> None:
    """examples/pools.json imports as is; export writes the same format back."""
    out = cli_any_db.ok("pools", "import", str(EXAMPLES_POOLS))
    assert out == "Imported 2 pools: test_pool, warehouse.\n"
    exported = tmp_path / "out.json"
    cli_any_db.ok("pools", "export", str(exported))
    document = json.loads(exported.read_text())
    assert document["test_pool"]["slots"] == 1
    assert document == {
        "default_pool": {"slots": 128, "description": "Default pool", "include_deferred": False},
        **{
            name: {**entry, "include_deferred": False}
            for name, entry in json.loads(EXAMPLES_POOLS.read_text()).items()
        },
    }


def test_include_deferred_is_set_listed_imported_and_exported(
    cli_any_db: Cli, tmp_path: Path
) -> None:
    """`pools set --include-deferred` makes deferred tasks hold the pool's slots; leaving the
    flag out keeps the setting; a pools file carries it both ways."""
    out = cli_any_db.ok("pools", "set", "api", "2", "--include-deferred")
    assert out == "Pool 'api' has 2 slots; deferred tasks hold its slots.\n"
    cli_any_db.ok("pools", "set", "api", "3")
    [api] = [
        r for r in json.loads(cli_any_db.ok("pools", "list", "-o", "json")) if r["name"] == "api"
    ]
    assert (api["slots"], api["include_deferred"], api["deferred"]) == (3, True, 0)
    cli_any_db.ok("pools", "set", "api", "3", "--exclude-deferred")
    pools = tmp_path / "pools.json"
    pools.write_text('{"api": {"slots": 1, "include_deferred": true}, "db": {"slots": 2}}')
    cli_any_db.ok("pools", "import", str(pools))
    exported = tmp_path / "out.json"
    cli_any_db.ok("pools", "export", str(exported))
    document = json.loads(exported.read_text())
    assert (document["api"]["include_deferred"], document["db"]["include_deferred"]) == (
        True,
        False,
    )
    pools.write_text('{"api": {"slots": 1, "include_deferred": "yes"}}')
    error = cli_any_db.fails("pools", "import", str(pools))
    assert "include_deferred must be true or false, got 'yes'" in error


def test_bad_pool_files_are_refused_whole(cli_sqlite: Cli, tmp_path: Path) -> None:
    """A malformed pools file changes nothing and fails with one line naming the problem."""
    bad = tmp_path / "pools.json"
    bad.write_text('{"ok": {"slots": 2}, "bad": {"slots": -3}}')
    assert "Pool 'bad'" in cli_sqlite.fails("pools", "import", str(bad))
    bad.write_text("[1, 2]")
    assert "must hold a JSON object" in cli_sqlite.fails("pools", "import", str(bad))
    bad.write_text("{")
    assert "not valid JSON" in cli_sqlite.fails("pools", "import", str(bad))
    assert "Cannot read" in cli_sqlite.fails("pools", "import", str(tmp_path / "missing.json"))
    names = [r["name"] for r in json.loads(cli_sqlite.ok("pools", "list", "-o", "json"))]
    assert names == ["default_pool"]
