"""Groups, labels, params and file templates survive the scheduler and its worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DAG_FILE = """
import datetime as dt
import json
from pathlib import Path
from taskkit import BashOperator, DAG, Label, Param, TaskGroup, task, task_group

OUT = Path(__file__).parent.parent / "out"

@task
def write(name, params=None, ds=None):
    (OUT / name).write_text(json.dumps({"params": params, "ds": ds}))
    return name

@task
def command():
    return f"echo from command > {OUT}/from_output"

@task_group
def middle():
    write.override(task_id="inner")("inner")

with DAG("ported", params={"n": Param(1, type="integer", minimum=1)},
         default_args={"email_on_failure": True}):
    with TaskGroup("prep", default_args={"retries": 2}) as prep:
        first = write.override(task_id="first", params={"who": "task"})("first")
    script = BashOperator(task_id="script", bash_command="script.sh")
    prep >> Label("then") >> middle() >> script
    BashOperator(task_id="from_output", bash_command=command())
"""


def _taskkit(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT")}
    env["TASKKIT_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "taskkit", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_ported_dag_runs_through_the_scheduler(tmp_path: Path) -> None:
    """A file with a group, a @task_group, a label, a Param, a .sh template and a task's output
    as a BashOperator's command runs end to end."""
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    (home / "out").mkdir()
    (home / "dags" / "ported.py").write_text(textwrap.dedent(DAG_FILE))
    out = home / "out"
    (home / "dags" / "script.sh").write_text(
        f"echo 'n={{{{ params.n }}}} {{{{ task_instance_key_str }}}}' > {out}/script\n"
    )
    _taskkit(home, "db", "init")
    run_id = (
        _taskkit(
            home,
            "dags",
            "trigger",
            "ported",
            "--conf",
            '{"n": 5}',
            "--logical-date",
            "2026-02-03T00:00:00",
        )
        .strip()
        .split()[-1]
    )
    _taskkit(home, "scheduler", "--exit-when-idle")
    states = {
        row["task_id"]: row["state"]
        for row in json.loads(_taskkit(home, "tasks", "states", "ported", run_id, "-o", "json"))
    }
    assert states == {
        "prep.first": "success",
        "middle.inner": "success",
        "script": "success",
        "command": "success",
        "from_output": "success",
    }
    first = json.loads((out / "first").read_text())
    assert first == {"params": {"n": 5, "who": "task"}, "ds": "2026-02-03"}
    assert json.loads((out / "inner").read_text())["params"] == {"n": 5}
    assert (out / "script").read_text() == "n=5 ported__script__20260203\n"
    # Another task's output as a classic operator's command: upstream, then its value.
    assert (out / "from_output").read_text() == "from command\n"
