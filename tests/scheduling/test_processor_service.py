"""The DAG processor as its own process: a hanging DAG file never stalls scheduling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from harness import Home, stop, wait_for
from processes import alive

from taskkit.states import RunState

pytestmark = pytest.mark.slow

CHAIN = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def chain():
    previous = None
    for i in range(8):
        @task(task_id=f"t{i}")
        def step(ti=None):
            note(ti, time.time())

        current = step()
        if previous is not None:
            previous >> current
        previous = current

chain()
"""


def _scheduler(home: Home, **settings: str) -> subprocess.Popen[str]:
    """`taskkit scheduler` in its own session, configured through the environment."""
    env = {
        **os.environ,
        "TASKKIT_HOME": str(home.path),
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": home.db_url,
        "TASKKIT__CORE__EXECUTOR": home.executor,
        "TASKKIT__SCHEDULER__DAG_DIR_LIST_INTERVAL": "1",
        "TASKKIT__SCHEDULER__PARSING_TIMEOUT": "600",
        **{f"TASKKIT__{k.upper().replace('.', '__')}": v for k, v in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", "scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _processors() -> list[int]:
    """Pids of live `taskkit dag-processor` processes started by this test's schedulers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"dag-processor" in command and b"--parent-pid" in command:
            found.append(int(entry.name))
    return found


def _children_processors(parent: int) -> list[int]:
    result = []
    for pid in _processors():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[command.index(b"--parent-pid") + 1] == str(parent).encode() and alive(pid):
            result.append(pid)
    return result


def test_a_hanging_dag_file_never_stalls_the_scheduler(home: Home) -> None:
    """With a file that hangs at import (and a 600 s parse timeout) in the DAGs folder, a chain
    in another DAG still runs to the end: the scheduler never waits on parsing, which its own
    dag-processor process does beside it; stopping the scheduler stops that process too."""
    home.write_dag("chain", CHAIN)
    home.sync()
    (home.path / "dags" / "hangs.py").write_text("import time\ntime.sleep(10**6)\n")
    scheduler = _scheduler(home)
    try:
        processors = wait_for(lambda: _children_processors(scheduler.pid), timeout=30)
        run = home.trigger("chain")
        wait_for(lambda: home.run_state("chain", run.run_id) is RunState.SUCCESS, timeout=120)
        assert home.store.list_import_errors() == []  # the hanging file is still being parsed
        os.kill(scheduler.pid, signal.SIGTERM)
        scheduler.communicate(timeout=30)
    finally:
        output = stop(scheduler)
    assert scheduler.returncode == 0, output
    wait_for(lambda: not any(alive(pid) for pid in processors), timeout=10)
    assert len(home.tries("chain")) == 8


def test_standalone_setting_starts_no_processor_and_the_command_parses(home: Home) -> None:
    """With scheduler.standalone_dag_processor the scheduler parses nothing itself; a separate
    `taskkit dag-processor -n 1` stores the DAGs, and the scheduler runs what it stored."""
    home.write_dag("chain", CHAIN)
    scheduler = _scheduler(home, **{"scheduler.standalone_dag_processor": "true"})
    try:
        wait_for(lambda: "scheduler" in _lease_holder(home), timeout=30)
        assert _children_processors(scheduler.pid) == []
        env = {
            **os.environ,
            "TASKKIT_HOME": str(home.path),
            "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": home.db_url,
        }
        done = subprocess.run(
            [sys.executable, "-m", "taskkit", "dag-processor", "-n", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        run = home.trigger("chain")
        wait_for(lambda: home.run_state("chain", run.run_id) is RunState.SUCCESS, timeout=120)
        os.kill(scheduler.pid, signal.SIGTERM)
        scheduler.communicate(timeout=30)
    finally:
        stop(scheduler)


def _lease_holder(home: Home) -> str:
    """A non-empty marker once a scheduler holds the metastore's lease."""
    from taskkit.metastore.lease import lease_holder

    return lease_holder(home.store.engine) or ""
