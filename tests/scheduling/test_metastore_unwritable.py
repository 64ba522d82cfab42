"""A metastore that cannot be written: retries with backoff, one line, a restart resumes."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Home

from taskkit.states import RunState

pytestmark = pytest.mark.slow

CHAIN = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def pair():
    @task
    def one(ti=None):
        note(ti, time.time())
        return 1

    @task
    def two(x, ti=None):
        note(ti, time.time())

    two(one())

pair()
"""


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file unwritable even for root (the immutable flag), else by its mode."""
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot make {path} immutable here: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    path.chmod(0o444)
    try:
        yield
    finally:
        path.chmod(mode)


def _scheduler(home: Home) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TASKKIT_HOME": str(home.path),
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": home.db_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "taskkit", "scheduler", "--exit-when-idle"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_read_only_metastore_gives_one_line_and_a_restart_finishes_the_run(
    tmp_path: Path,
) -> None:
    """With the SQLite file read-only the scheduler retries, then exits 1 with one line saying
    what failed and that a restart resumes; once writable, a restart finishes the run."""
    home = Home.create(tmp_path / "home", f"sqlite:///{tmp_path / 'home' / 'taskkit.db'}")
    try:
        home.write_dag("pair", CHAIN)
        home.sync()
        run = home.trigger("pair")
        home.store.dispose()  # no connection of ours keeps the file open for writing
        with read_only(tmp_path / "home" / "taskkit.db"):
            failed = _scheduler(home)
        assert failed.returncode == 1, failed.stderr
        assert "Traceback" not in failed.stderr
        errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1
        assert "Cannot write to the metastore" in errors[0]
        assert "start the scheduler again" in errors[0]
        assert failed.stderr.count("metastore_write_failed") >= 3  # it retried first
        assert home.run_state("pair", run.run_id) is RunState.QUEUED  # nothing half-written
        done = _scheduler(home)
        assert done.returncode == 0, done.stderr
        assert home.run_state("pair", run.run_id) is RunState.SUCCESS
        assert sorted(t.task for t in home.tries("pair")) == ["one", "two"]
    finally:
        home.close()
