"""`taskkit users create|list|delete` and `taskkit api-server --help`."""

from __future__ import annotations

import json

from cli_harness import Cli


def test_create_with_a_generated_password_then_list_and_delete(cli_sqlite: Cli) -> None:
    """Without --password one is generated and printed; list shows the role; delete removes."""
    out = cli_sqlite.ok("users", "create", "ada", "--role", "op")
    assert "Created user 'ada' with role op." in out
    password = out.split("Password: ")[1].strip()
    assert len(password) >= 12
    cli_sqlite.ok("users", "create", "bob", "--role", "viewer", "--password", "long enough")
    listed = json.loads(cli_sqlite.ok("users", "list", "-o", "json"))
    assert [(u["username"], u["role"]) for u in listed] == [("ada", "op"), ("bob", "viewer")]
    assert "password" not in json.dumps(listed)
    assert "Deleted user 'ada'." in cli_sqlite.ok("users", "delete", "ada")
    assert "ada" not in cli_sqlite.ok("users", "list")


def test_bad_users_are_one_clear_line(cli_sqlite: Cli) -> None:
    """A taken name, a short password, an odd name, an unknown role or user: one line each."""
    cli_sqlite.ok("users", "create", "ada", "--role", "admin", "--password", "long enough")
    assert "already exists" in cli_sqlite.fails(
        "users", "create", "ada", "--role", "op", "--password", "long enough"
    )
    assert "at least 8" in cli_sqlite.fails(
        "users", "create", "eve", "--role", "op", "--password", "short"
    )
    assert "is not valid" in cli_sqlite.fails("users", "create", "e/ve", "--role", "op")
    assert "--role" in cli_sqlite.fails("users", "create", "eve", "--role", "root", code=2)
    assert "No user 'ghost'" in cli_sqlite.fails("users", "delete", "ghost")


def test_users_need_an_initialised_metastore(bare_cli: Cli) -> None:
    """Before `db init`, users commands say to run it."""
    assert "taskkit db init" in bare_cli.fails("users", "list")


def test_api_server_has_its_options(bare_cli: Cli) -> None:
    """`api-server --help` documents --host (default 127.0.0.1) and --port (default 8080)."""
    out = bare_cli.ok("api-server", "--help")
    assert "--host" in out and "127.0.0.1" in out
    assert "--port" in out and "8080" in out
