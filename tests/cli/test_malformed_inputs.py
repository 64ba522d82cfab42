"""Malformed input anywhere a user types it: one clean line and a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_harness import SIMPLE_DAG, Cli

LONG = "a" * 10_000

#: (id, command line); "{file}", "{dir}" and "{binary}" are replaced by real paths.
COMMANDS: list[tuple[str, list[str]]] = [
    ("run-id-escapes", ["dags", "trigger", "simple", "--run-id", "../../escaped"]),
    ("run-id-long", ["dags", "trigger", "simple", "--run-id", LONG]),
    ("run-id-newline", ["dags", "trigger", "simple", "--run-id", "a\nb"]),
    ("run-id-empty", ["dags", "trigger", "simple", "--run-id", ""]),
    ("run-id-unicode", ["dags", "trigger", "simple", "--run-id", "ünïcødé"]),
    ("run-id-nul", ["dags", "trigger", "simple", "--run-id", "a\x00b"]),
    ("run-id-space", ["dags", "trigger", "simple", "--run-id", "a b"]),
    ("run-id-251", ["dags", "trigger", "simple", "--run-id", "r" * 251]),
    ("dag-id-empty", ["dags", "trigger", ""]),
    ("dag-id-long", ["dags", "trigger", "d" * 300]),
    ("dag-id-bang", ["dags", "trigger", "bad id!"]),
    ("dag-id-path", ["dags", "trigger", "../etc/passwd"]),
    ("dag-id-unknown", ["dags", "trigger", "no_such_dag"]),
    ("conf-list", ["dags", "trigger", "simple", "--conf", "[1]"]),
    ("conf-broken", ["dags", "trigger", "simple", "--conf", "{"]),
    ("conf-nul", ["dags", "trigger", "simple", "--conf", '{"a": "\\u0000"}']),
    ("conf-deep", ["dags", "trigger", "simple", "--conf", "[" * 100_000]),
    ("conf-nan", ["dags", "trigger", "simple", "--conf", '{"a": NaN}']),
    ("date-word", ["dags", "trigger", "simple", "--logical-date", "yesterday"]),
    ("date-impossible", ["dags", "trigger", "simple", "--logical-date", "2026-99-99"]),
    ("date-empty", ["dags", "trigger", "simple", "--logical-date", ""]),
    ("pool-name-bang", ["pools", "set", "bad name!", "3"]),
    ("pool-name-empty", ["pools", "set", "", "3"]),
    ("pool-name-long", ["pools", "set", "p" * 300, "3"]),
    ("pool-name-nul", ["pools", "set", "p\x00", "3"]),
    ("pool-name-path", ["pools", "set", "../p", "3"]),
    ("slots-huge", ["pools", "set", "p", "99999999999999999999"]),
    ("slots-2-63", ["pools", "set", "p", str(2**63)]),
    ("slots-negative", ["pools", "set", "p", "-1"]),
    ("slots-word", ["pools", "set", "p", "many"]),
    ("slots-float", ["pools", "set", "p", "3.5"]),
    ("slots-empty", ["pools", "set", "p", ""]),
    ("description-nul", ["pools", "set", "p", "3", "a\x00b"]),
    ("delete-default", ["pools", "delete", "default_pool"]),
    ("delete-unknown", ["pools", "delete", "nope"]),
    ("import-binary", ["pools", "import", "{binary}"]),
    ("import-missing", ["pools", "import", "/nonexistent/pools.json"]),
    ("import-directory", ["pools", "import", "{dir}"]),
    ("import-list", ["pools", "import", "{list_json}"]),
    ("import-bad-name", ["pools", "import", "{bad_name_json}"]),
    ("import-huge-slots", ["pools", "import", "{huge_json}"]),
    ("import-deep", ["pools", "import", "{deep_json}"]),
    ("runs-nul", ["runs", "list", "a\x00"]),
    ("runs-long", ["runs", "list", LONG]),
    ("states-path", ["tasks", "states", "simple", "../x"]),
    ("states-bad-dag", ["tasks", "states", "bad!", "r"]),
    ("logs-try-negative", ["tasks", "logs", "simple", "r", "t", "--try", "-1"]),
    ("logs-try-word", ["tasks", "logs", "simple", "r", "t", "--try", "x"]),
    ("logs-path", ["tasks", "logs", "simple", "../../etc", "t"]),
    ("why-newline", ["tasks", "why", "simple", "r", "\n"]),
    ("show-nul", ["dags", "show", "\x00"]),
    ("pause-space", ["dags", "pause", "a b"]),
    ("backfill-dates", ["dags", "backfill", "simple", "--start-date", "x", "--end-date", "y"]),
    ("parallelism-negative", ["scheduler", "--parallelism", "-5", "--exit-when-idle"]),
    ("parallelism-huge", ["scheduler", "--parallelism", "9" * 30, "--exit-when-idle"]),
    ("dags-folder-file", ["scheduler", "--dags-folder", "{file}", "--exit-when-idle"]),
    ("processor-folder-file", ["dag-processor", "--dags-folder", "{file}", "-n", "1"]),
    ("dags-folder-missing", ["scheduler", "--dags-folder", "{dir}/typo", "--exit-when-idle"]),
    ("processor-folder-missing", ["dag-processor", "--dags-folder", "{dir}/typo", "-n", "1"]),
    ("triggerer-folder-missing", ["triggerer", "--dags-folder", "{dir}/typo"]),
    ("executor-bogus", ["scheduler", "--executor", "bogus"]),
    ("num-runs-zero", ["dag-processor", "-n", "0"]),
    ("output-xml", ["dags", "list", "-o", "xml"]),
    ("config-get-unknown", ["config", "get-value", "core", "nope"]),
    ("unknown-command", ["frobnicate"]),
]

#: (id, environment variables, taskkit.toml content or None)
CONFIGS: list[tuple[str, dict[str, str], bytes | None]] = [
    ("env-negative", {"TASKKIT__CORE__PARALLELISM": "-1"}, None),
    ("env-word", {"TASKKIT__CORE__PARALLELISM": "lots"}, None),
    ("env-huge", {"TASKKIT__CORE__PARALLELISM": "9" * 40}, None),
    ("env-unknown", {"TASKKIT__CORE__BOGUS": "1"}, None),
    ("env-bad-url", {"TASKKIT__DATABASE__SQL_ALCHEMY_CONN": "mysql://x/y"}, None),
    ("env-empty-url", {"TASKKIT__DATABASE__SQL_ALCHEMY_CONN": ""}, None),
    ("env-nan-timeout", {"TASKKIT__SCHEDULER__PARSING_TIMEOUT": "nan"}, None),
    ("env-inf-timeout", {"TASKKIT__SCHEDULER__PARSING_TIMEOUT": "inf"}, None),
    ("env-short-key", {"TASKKIT__CORE__SECRET_KEY": "short"}, None),
    ("env-tiny-log-cap", {"TASKKIT__LOGGING__MAX_TASK_LOG_BYTES": "10"}, None),
    ("env-empty-executor", {"TASKKIT__CORE__EXECUTOR": ""}, None),
    ("env-bool", {"TASKKIT__CORE__ENABLE_XCOM_PICKLING": "perhaps"}, None),
    ("env-key-file-under-file", {"TASKKIT__CORE__SECRET_KEY_FILE": "{file}/key"}, None),
    ("toml-binary", {}, b"\xff\xfe\x00garbage\x81"),
    ("toml-top-level", {}, b"core = 3\n"),
    ("toml-wrong-type", {}, b'[core]\nparallelism = "x"\n'),
    ("toml-path-type", {}, b"[core]\ndags_folder = 5\n"),
    ("toml-broken", {}, b"[core\n"),
]


def _fill(text: str, paths: dict[str, Path]) -> str:
    for name, path in paths.items():
        text = text.replace("{" + name + "}", str(path))
    return text


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    files = tmp_path / "inputs"
    files.mkdir()
    made = {
        "file": files / "a_file.txt",
        "dir": files,
        "binary": files / "binary.json",
        "list_json": files / "list.json",
        "bad_name_json": files / "bad_name.json",
        "huge_json": files / "huge.json",
        "deep_json": files / "deep.json",
    }
    made["file"].write_text("not a folder")
    made["binary"].write_bytes(bytes(range(256)) * 4)
    made["list_json"].write_text("[1, 2]")
    made["bad_name_json"].write_text('{"bad name!": {"slots": 1}}')
    made["huge_json"].write_text('{"p": {"slots": 1e400}}')
    made["deep_json"].write_text("[" * 100_000)
    return made


def _assert_one_clean_line(result: object, what: str) -> None:
    exit_code = result.exit_code  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert exit_code != 0, f"{what}: exit 0\n{output}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{what}: {stderr!r}"
    assert lines[0].startswith("error: "), f"{what}: {lines[0]!r}"
    assert "Traceback" not in output, what


@pytest.mark.parametrize(("what", "args"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_malformed_command_line_is_one_clean_line(
    cli_sqlite: Cli, paths: dict[str, Path], what: str, args: list[str]
) -> None:
    """Each malformed argument gets one `error:` line and a non-zero exit."""
    cli_sqlite.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    result = cli_sqlite(*[_fill(a, paths) for a in args])
    _assert_one_clean_line(result, what)


@pytest.mark.parametrize(("what", "env", "toml"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_malformed_configuration_is_one_clean_line(
    *,
    cli_sqlite: Cli,
    paths: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    env: dict[str, str],
    toml: bytes | None,
) -> None:
    """Each malformed setting, from the environment or taskkit.toml, is one line and exit 1."""
    cli_sqlite.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    for name, value in env.items():
        monkeypatch.setenv(name, _fill(value, paths))
    if toml is not None:
        (cli_sqlite.home / "taskkit.toml").write_bytes(toml)
    result = cli_sqlite("dags", "trigger", "simple")
    _assert_one_clean_line(result, what)


def test_there_are_at_least_fifty_malformed_inputs() -> None:
    """The issue asks for at least 50 malformed inputs across the CLI and the config."""
    assert len(COMMANDS) + len(CONFIGS) >= 50


PG_TRACEBACKS_BEFORE = [
    "run-id-long",
    "run-id-newline",
    "run-id-nul",
    "conf-nul",
    "pool-name-long",
    "pool-name-nul",
    "slots-huge",
    "description-nul",
    "runs-nul",
]


@pytest.mark.parametrize("what", PG_TRACEBACKS_BEFORE)
def test_names_postgresql_choked_on_are_one_clean_line_on_both_databases(
    cli_any_db: Cli, paths: dict[str, Path], what: str
) -> None:
    """Names that gave psycopg tracebacks on PostgreSQL are refused the same way on both."""
    cli_any_db.write_dag("simple.py", SIMPLE_DAG.format(dag_id="simple"))
    args = dict(COMMANDS)[what]
    _assert_one_clean_line(cli_any_db(*[_fill(a, paths) for a in args]), what)
