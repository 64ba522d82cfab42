"""The CLI test harness: a `Cli` that runs commands in-process, and DAG file sources."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from taskkit.cli import cli
from taskkit.config import load_settings
from taskkit.metastore import Metastore

SIMPLE_DAG = """
from taskkit import DAG, EmptyOperator
with DAG("{dag_id}"):
    EmptyOperator(task_id="t")
"""

ETL_DAG = """
import datetime as dt
from taskkit import BashOperator, dag, task

@dag(schedule="@daily", start_date=dt.datetime(2026, 1, 1), catchup=False)
def etl():
    @task(pool="db", pool_slots=2, priority_weight=7)
    def extract() -> dict:
        print("extracting")
        return {"rows": 3}

    @task
    def load(data: dict) -> int:
        return data["rows"]

    notify = BashOperator(task_id="notify", bash_command="echo try {{ ti.try_number }}")
    load(extract()) >> notify

etl()
"""

FAILING_DAG = """
from taskkit import DAG, task
with DAG("failing"):
    @task
    def boom():
        raise RuntimeError("kaboom")
    boom()
"""


class Cli:
    """Runs `taskkit` commands in-process against one TASKKIT_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dags = home / "dags"
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Run a command; the result has exit_code, stdout and stderr."""
        return self.runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; return its stdout."""
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def fails(self, *args: str, code: int = 1) -> str:
        """Run a command that must fail with `code` and one line on stderr; return that line."""
        result = self(*args)
        assert result.exit_code == code, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert "Traceback" not in result.output
        return lines[0]

    def write_dag(self, name: str, source: str) -> Path:
        """Put a DAG file in the DAGs folder."""
        path = self.dags / name
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    def store(self) -> Metastore:
        """The metastore of this home (dispose it after use)."""
        return Metastore.open(load_settings().database.sql_alchemy_conn)
