"""`python -m taskkit` as a real process: help, exit codes, one-line errors, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_taskkit(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m taskkit ARGS` with TASKKIT_HOME=home and no other taskkit settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT")}
    env["TASKKIT_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "taskkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_every_command_group(tmp_path: Path) -> None:
    """`python -m taskkit --help` exits 0 and lists the A3 command groups."""
    result = run_taskkit(tmp_path, "--help")
    assert result.returncode == 0
    for group in ("db", "scheduler", "dags", "runs", "tasks", "pools", "config"):
        assert f"  {group} " in result.stdout
    assert result.stderr == ""


def test_uninitialised_metastore_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A command on a fresh home prints one `error:` line telling the user to run db init."""
    result = run_taskkit(tmp_path, "pools", "list")
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: The metastore at sqlite:///")
    assert line.endswith("run `taskkit db init`.")


def test_usage_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """An unknown command is a usage error: one line and exit code 2."""
    result = run_taskkit(tmp_path, "dags", "frobnicate")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: No such command 'frobnicate'")
    assert "taskkit dags --help" in line


def test_init_then_json_output_is_one_document(tmp_path: Path) -> None:
    """After `db init`, `pools list -o json` prints exactly one JSON document on stdout."""
    import json

    assert run_taskkit(tmp_path, "db", "init").returncode == 0
    result = run_taskkit(tmp_path, "pools", "list", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["name"] == "default_pool"


@pytest.mark.parametrize("args", [["--help"], ["dags", "--help"], ["tasks", "why", "--help"]])
def test_help_imports_no_heavy_modules(args: list[str]) -> None:
    """Help loads neither SQLAlchemy, cloudpickle, structlog, Jinja2 nor the metastore."""
    heavy = ("sqlalchemy", "cloudpickle", "structlog", "taskkit.metastore", "alembic", "jinja2")
    code = (
        f"import sys\nfrom taskkit.cli import main\nmain({args!r})\n"
        f"sys.stderr.write(repr([m for m in {heavy!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr == "[]"
