"""`taskkit celery ...` commands: clear errors without a fleet, and the real Flower in a browser."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import Cli

from taskkit.model.workers import WorkerReport, WorkerState


def test_concurrency_and_autoscale_together_are_a_usage_error(cli_sqlite: Cli) -> None:
    """--concurrency and --autoscale exclude each other: one line, exit 2."""
    line = cli_sqlite.fails("celery", "worker", "--concurrency", "2", "--autoscale", "4,1", code=2)

    assert "--concurrency or --autoscale, not both" in line


@pytest.mark.parametrize("value", ["4", "1,4", "0,0", "a,b", "4,1,1", "-1,0"])
def test_a_bad_autoscale_is_one_clear_line(cli_sqlite: Cli, value: str) -> None:
    """A malformed MAX,MIN names the setting and the expected form."""
    line = cli_sqlite.fails("celery", "worker", "--autoscale", value)

    assert "celery.worker_autoscale" in line
    assert "MAX" in line


def test_a_bad_flower_basic_auth_is_one_clear_line(
    cli_sqlite: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """celery.flower_basic_auth must be user:password pairs; the value itself is not echoed."""
    monkeypatch.setenv("TASKKIT__CELERY__FLOWER_BASIC_AUTH", "just-a-password")

    line = cli_sqlite.fails("celery", "flower")

    assert "celery.flower_basic_auth" in line
    assert "just-a-password" not in line


def test_workers_and_stop_with_no_worker(cli_sqlite: Cli) -> None:
    """With no worker reporting, `celery workers` says so and `celery stop` names the host."""
    assert "No Celery workers have reported" in cli_sqlite.ok("celery", "workers")
    assert cli_sqlite.ok("celery", "workers", "-o", "json").strip() == "[]"

    line = cli_sqlite.fails("celery", "stop")
    assert f"No live Celery worker on {socket.gethostname()}" in line

    line = cli_sqlite.fails("celery", "stop", "taskkit-1@nowhere")
    assert "No live Celery worker named taskkit-1@nowhere" in line


def test_stop_with_the_broker_down_is_one_clear_line(
    cli_sqlite: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`celery stop` when the broker does not answer names it (without its password) and fails."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TASKKIT__CELERY__BROKER_URL", f"redis://:secret@127.0.0.1:{port}/0")
    now = dt.datetime.now(dt.timezone.utc)
    store = cli_sqlite.store()
    store.save_celery_worker(
        WorkerReport(
            f"taskkit-1@{socket.gethostname()}",
            socket.gethostname(),
            1,
            ("default",),
            2,
            None,
            (),
            WorkerState.ONLINE,
            now,
            now,
        )
    )
    store.dispose()

    line = cli_sqlite.fails("celery", "stop", "--no-wait")

    assert f"Cannot reach the Celery broker at redis://:***@127.0.0.1:{port}/0" in line
    assert "secret" not in line


# -- Flower, in a real browser ------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT__")}
    env["TASKKIT_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _end(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    return process.communicate(timeout=10)[0]


@pytest.fixture
def flower_site(cli_sqlite: Cli) -> Iterator[tuple[str, str]]:
    """A real worker and `taskkit celery flower` with basic auth: (Flower's URL, worker name)."""
    pytest.importorskip("flower", reason="install taskkit[flower] to test `taskkit celery flower`")
    if not _answers(6379):
        pytest.skip("Redis is not on 127.0.0.1:6379")
    port = _free_port()
    (cli_sqlite.home / "taskkit.toml").write_text(
        "[celery]\nbroker_url = 'redis://127.0.0.1:6379/0'\n"
        f"default_queue = 'flower-{uuid.uuid4().hex[:8]}'\n"
        "flower_basic_auth = 'admin:s3cret-pass'\n",
        encoding="utf-8",
    )
    worker = _spawn(cli_sqlite.home, "celery", "worker", "--concurrency", "2")
    flower = _spawn(cli_sqlite.home, "celery", "flower", "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert flower.poll() is None, _end(flower)
            assert time.monotonic() < deadline, "Flower did not start listening"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", f"taskkit-{worker.pid}@{socket.gethostname()}"
    finally:
        _end(flower)
        _end(worker)


@pytest.mark.browser
@pytest.mark.celery
def test_flower_shows_a_running_worker_behind_basic_auth(flower_site: tuple[str, str]) -> None:
    """Flower, started by `taskkit celery flower` on 127.0.0.1, refuses a visitor without the
    login and shows the running taskkit worker, online, to one with it."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="install playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    url, worker_name = flower_site
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            anonymous = browser.new_context()  # the browser would show a login prompt
            assert anonymous.request.get(url + "/workers").status == 401

            context = browser.new_context(
                http_credentials={"username": "admin", "password": "s3cret-pass"}
            )
            page = context.new_page()
            deadline = time.monotonic() + 60
            while True:  # Flower learns of workers from their heartbeats: reload until it has
                page.goto(url + "/workers")
                row = page.locator("tr", has_text=worker_name)
                if row.count() and "online" in row.first.inner_text().lower():
                    break
                seen = row.first.inner_text() if row.count() else page.inner_text("body")
                assert time.monotonic() < deadline, seen
                page.wait_for_timeout(1000)
            assert "Flower" in page.title()
        finally:
            browser.close()
