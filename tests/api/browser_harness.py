"""Driving the UI in headless Chromium: a real api-server, real scheduler runs, Playwright.

Debian's chromium is used (`playwright install` cannot download browsers
here). Without it, or without Playwright, the browser tests skip with the
reason; .ci/run sets TASKKIT_REQUIRE_BROWSER=1 so there they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TASKKIT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

#: A DAG whose tasks take long enough to watch, sharing a 1-slot pool.
NARROW_DAG = """
import time
from taskkit import dag, task

@dag(schedule=None, tags=["demo"])
def narrow():
    for name in ("first", "second", "third"):
        @task(task_id=name, pool="single")
        def hold():
            time.sleep(2.5)
            return "done"
        hold()

narrow()
"""

SLOW_DAG = """
import time
from taskkit import Param, dag, task

@dag(schedule=None, params={"rows": Param(3, type="integer", minimum=1), "label": "daily"},
     tags=["demo"],
     description="Waits a little so a run can be watched")
def slow():
    @task
    def extract(params=None):
        print(f"extracting {params['rows']} rows for {params['label']}")
        for i in range(200):
            print(f"row {i}")
        time.sleep(1.5)
        return params["rows"]

    @task
    def load(rows: int) -> int:
        time.sleep(0.5)
        return rows * 2

    load(extract())

slow()
"""


#: Three quick tasks in a chain, to clear and mark one, its downstream, and the whole run.
STEER_DAG = """
from taskkit import BashOperator, DAG, chain

with DAG("steer", schedule=None, tags=["demo"]):
    chain(*(
        BashOperator(
            task_id=name,
            bash_command="echo {{ ti.task_id }} of {{ dag_run.run_id }} try {{ ti.try_number }}",
        )
        for name in ("a", "b", "c")
    ))
"""

#: A mapped task whose third instance of four fails.
FAN_DAG = """
from taskkit import dag, task

@dag(schedule=None, tags=["demo"])
def fan():
    @task
    def numbers():
        return [1, 2, 3, 4]

    @task
    def check(n: int) -> int:
        print(f"checking {n}")
        if n == 3:
            raise ValueError("three is bad")
        return n * 10

    check.expand(n=numbers())

fan()
"""


def chromium_or_skip() -> Any:
    """Playwright's sync API, or a skip saying what is missing."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's `chromium` (apt-get install chromium)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    return sync_playwright


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    """`taskkit api-server` on the port, once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "api-server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening" not in line:
        process.kill()
        raise AssertionError(
            f"api-server did not start: {line}{process.stderr.read() if process.stderr else ''}"
        )
    return process


def start_scheduler(env: dict[str, str]) -> subprocess.Popen[str]:
    """`taskkit scheduler --exit-when-idle` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", "scheduler", "--exit-when-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    """Interrupt a process and wait for it (kill it if it hangs)."""
    if process.poll() is None:
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Shots:
    """Saves screenshots under the test's temp dir; copies them to TASKKIT_SCREENSHOTS_TO."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        target = os.environ.get("TASKKIT_SCREENSHOTS_TO")
        self.copy_to = Path(target) if target else None

    def take(self, page: Any, name: str, *, full_page: bool = False) -> Path:
        """Screenshot `page` as NAME.png."""
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if self.copy_to is not None:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, self.copy_to / path.name)
        return path


def browser(sync_playwright: Any) -> Iterator[Any]:
    """One Chromium for a module's tests."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
