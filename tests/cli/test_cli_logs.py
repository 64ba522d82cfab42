"""`taskkit tasks logs`: streamed, capped by logging.max_task_log_bytes, and --follow."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_harness import Cli

pytestmark = pytest.mark.slow

CHATTY = """
import time
from taskkit import DAG, task

with DAG("chatty"):
    @task
    def talk():
        for i in range(5):
            print(f"tick {i}", flush=True)
            time.sleep(0.4)
        for i in range(3000):
            print(f"bulk {i:05d} " + "y" * 60)
        print("the end", flush=True)

    talk()
"""


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_follow_tails_a_running_try_and_the_cap_keeps_head_and_tail(
    cli_sqlite: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tasks logs --follow` started while the try runs prints every line up to the try's end
    and exits; the log, capped at logging.max_task_log_bytes, says what it cut."""
    cap = 16 * 1024
    monkeypatch.setenv("TASKKIT__LOGGING__MAX_TASK_LOG_BYTES", str(cap))
    cli_sqlite.write_dag("chatty.py", CHATTY)
    cli_sqlite.ok("dags", "trigger", "chatty", "--run-id", "r1")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "scheduler", "--exit-when-idle"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        log = cli_sqlite.home / "logs" / "chatty" / "r1" / "talk" / "1.log"
        _wait_for(log)
        follow = subprocess.run(
            [sys.executable, "-m", "taskkit", "tasks", "logs", "chatty", "r1", "talk", "--follow"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        _, errors = scheduler.communicate(timeout=120)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()
    assert scheduler.returncode == 0, errors
    assert follow.returncode == 0, follow.stderr
    printed = follow.stdout.splitlines()
    assert [line for line in printed if line.startswith("tick")] == [f"tick {i}" for i in range(5)]
    assert "try_finished" in printed[-1]
    assert log.stat().st_size <= cap + 2048
    whole = cli_sqlite.ok("tasks", "logs", "chatty", "r1", "talk").splitlines()
    assert "try_started" in whole[0] and whole[1:6] == [f"tick {i}" for i in range(5)]
    assert any("log_truncated" in line and "logging.max_task_log_bytes" in line for line in whole)
    assert whole[-2] == "the end" and "try_finished" in whole[-1]
