"""The secret key never reaches user code through the environment: not tries, not DAG parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import Home

from taskkit import serde
from taskkit.states import RunState

pytestmark = pytest.mark.slow

KEY = "a-secret-key-of-at-least-16-chars"

SPY = """
import json, os
from pathlib import Path

SEEN = Path({seen!r})


def record(where):
    keys = sorted(k for k in os.environ if "SECRET" in k)
    with SEEN.open("a") as out:
        out.write(json.dumps({{"where": where, "keys": keys}}) + "\\n")


record("parse")


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def spy():
    @task
    def look(ti=None):
        note(ti, time.time())
        record("try")

    look()

spy()
"""


def _run(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TASKKIT_HOME": str(home.path),
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": home.db_url,
        "TASKKIT__CORE__SECRET_KEY": KEY,
    }
    return subprocess.run(
        [sys.executable, "-m", "taskkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_tries_and_parsers_do_not_inherit_the_secret_key(home: Home, tmp_path: Path) -> None:
    """With core.secret_key set in the environment, neither a DAG file being parsed (by the
    scheduler or by `taskkit dag-processor`) nor a try sees it in its environment."""
    seen = tmp_path / "seen.jsonl"
    home.write_dag("spy", SPY.format(seen=str(seen)))
    parsed = _run(home, "dag-processor", "-n", "1")
    assert parsed.returncode == 0, parsed.stderr
    version = home.store.get_current_dag_version("spy")
    serde.verify(version.payload, version.signature, KEY.encode())  # the processor had the key
    home.key = KEY.encode()
    run = home.trigger("spy")
    done = _run(home, "scheduler", "--exit-when-idle")
    assert done.returncode == 0, done.stderr
    assert home.run_state("spy", run.run_id) is RunState.SUCCESS
    records = [json.loads(line) for line in seen.read_text().splitlines()]
    assert {r["where"] for r in records} == {"parse", "try"}
    assert all(r["keys"] == [] for r in records), records
