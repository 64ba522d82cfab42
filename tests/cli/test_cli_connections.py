"""`taskkit connections`: add (URI, JSON or fields), get, list, delete, import, export."""

from __future__ import annotations

import json
from pathlib import Path

from cli_harness import Cli


def test_add_from_uri_json_and_fields_then_list(cli_any_db: Cli) -> None:
    """Each way of adding works; listings never show a password."""
    cli = cli_any_db
    cli.ok("connections", "add", "wh", "--conn-uri", "postgres://etl:s3cr3t@db:5432/w")
    cli.ok("connections", "add", "api", "--conn-json", '{"conn_type": "http", "host": "a.io"}')
    cli.ok(
        "connections", "add", "ftp", "--conn-type", "ftp", "--conn-host", "f.io",
        "--conn-port", "21", "--conn-password", "pw-ftp-1", "--conn-extra", '{"passive": true}',
    )  # fmt: skip
    rows = {r["conn_id"]: r for r in json.loads(cli.ok("connections", "list", "-o", "json"))}
    assert set(rows) == {"api", "ftp", "wh"}
    assert (rows["wh"]["host"], rows["wh"]["port"], rows["wh"]["password"]) == ("db", 5432, "***")
    assert rows["ftp"]["extra"] == {"passive": True}
    shown = cli.ok("connections", "get", "wh", "-o", "json")
    assert "s3cr3t" not in shown
    assert json.loads(shown)[0]["login"] == "etl"
    cli.ok("connections", "delete", "wh")
    assert "'wh' isn't defined" in cli.fails("connections", "get", "wh")


def test_add_errors_are_one_line(cli_sqlite: Cli) -> None:
    """A duplicate id, two ways at once, a bad URI or no type: one line each."""
    cli = cli_sqlite
    cli.ok("connections", "add", "c", "--conn-uri", "http://h")
    assert "already exists" in cli.fails("connections", "add", "c", "--conn-uri", "http://h")
    assert "one way only" in cli.fails(
        "connections", "add", "d", "--conn-uri", "http://h", "--conn-host", "x"
    )
    assert "not a connection URI" in cli.fails("connections", "add", "d", "--conn-uri", "nope")
    assert "needs a conn_type" in cli.fails("connections", "add", "d", "--conn-host", "h")
    assert "isn't defined" in cli.fails("connections", "delete", "nope")


def test_import_export_round_trip_and_malformed_files(cli_any_db: Cli, tmp_path: Path) -> None:
    """Export then import gives the same connections; a malformed file imports nothing."""
    cli = cli_any_db
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ok": "http://h", "broken": 42}))
    line = cli.fails("connections", "import", str(bad))
    assert "'broken': expected a URI or an object" in line
    assert cli.ok("connections", "list") == "No connections.\n"
    cli.ok("connections", "add", "wh", "--conn-uri", "postgres://etl:pw@db:5432/w?sslmode=require")
    out = tmp_path / "out.json"
    cli.ok("connections", "export", str(out))
    cli.ok("connections", "delete", "wh")
    assert "Imported 1 connections: wh." in cli.ok("connections", "import", str(out))
    assert json.loads(out.read_text())["wh"]["password"] == "pw"
    cli.ok("connections", "export", str(tmp_path / "again.json"))
    assert json.loads((tmp_path / "again.json").read_text()) == json.loads(out.read_text())
