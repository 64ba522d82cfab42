"""The DAG processor as its own process: parse the folder every interval, store what it finds.

Also how a scheduler starts its helpers beside itself: the DAG processor and
the triggerer, each a `taskkit` child in its own process group.

DAG files are user code and may take as long as `scheduler.parsing_timeout`
to fail; so the scheduler never parses them itself. `taskkit dag-processor`
runs this loop, and the scheduler starts one beside itself (unless
`scheduler.standalone_dag_processor` says one runs elsewhere) and only reads
what it stored, as Airflow 3's scheduler and dag-processor do.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.exc import SQLAlchemyError

from taskkit.config import ENV_PREFIX
from taskkit.errors import TaskkitError
from taskkit.scheduling.dag_processor import SyncReport, sync_dags_folder

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore.store import Metastore

log = structlog.get_logger(__name__)

#: How often a processor started by a scheduler checks that its scheduler still exists.
_PARENT_CHECK_S = 1.0
#: A child that died is started again at most this often.
RESTART_INTERVAL_S = 5.0


def run_processor(
    store: Metastore,
    settings: Settings,
    secret_key: bytes,
    *,
    num_runs: int | None = None,
    first_after: float = 0.0,
    keep_going: Callable[[], bool] = lambda: True,
    on_pass: Callable[[SyncReport], None] = lambda report: None,
) -> int:
    """Parse and store the DAGs folder every `dag_dir_list_interval` seconds; return passes made.

    Stops after `num_runs` passes, or when `keep_going()` turns false (checked
    at least every second while waiting). A pass that fails on the metastore
    (locked, unreachable) is logged and retried at the next interval.
    """
    passes = 0
    next_pass = time.monotonic() + first_after
    while keep_going() and (num_runs is None or passes < num_runs):
        wait = next_pass - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, _PARENT_CHECK_S))
            continue
        next_pass = time.monotonic() + settings.scheduler.dag_dir_list_interval
        try:
            report = sync_dags_folder(store, settings, secret_key)
        except (SQLAlchemyError, TaskkitError) as exc:  # retried at the next interval
            log.warning("dag_processing_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            continue
        passes += 1
        log.info(
            "dags_processed",
            files=report.files,
            dags=len(report.saved),
            new_versions=len(report.new_versions),
            import_errors=len(report.errors),
            duration_s=round(report.duration_s, 3),
        )
        on_pass(report)
    return passes


def parent_alive(parent_pid: int | None) -> Callable[[], bool]:
    """A keep_going check: true while the process that started us is still our parent."""
    if parent_pid is None:
        return lambda: True
    return lambda: os.getppid() == parent_pid


@contextlib.contextmanager
def processor_beside(settings: Settings, *, enabled: bool) -> Iterator[None]:
    """Run `taskkit dag-processor` in a child for as long as the block runs.

    The child gets its own process group, so stopping it also stops the
    parsing processes it started, even one stuck in a file's import.
    """
    if not enabled:
        yield
        return
    arguments = ["dag-processor", "--dags-folder", str(settings.core.dags_folder)]
    processor = ChildBeside(settings, arguments, "dag_processor")
    processor.ensure_running()
    try:
        yield
    finally:
        processor.stop()


class ChildBeside:
    """A `taskkit <arguments>` child in its own process group, started when first wanted.

    `ensure_running()` starts it, and starts it again if it died (at most
    every RESTART_INTERVAL_S, so a child that cannot start does not spin);
    `stop()` ends it and whatever it started.
    """

    def __init__(self, settings: Settings, arguments: list[str], name: str) -> None:
        self.settings = settings
        self.arguments = arguments
        self.name = name
        self.child: subprocess.Popen[bytes] | None = None
        self._last_start = -RESTART_INTERVAL_S

    def ensure_running(self) -> None:
        """Start the child unless it runs (restarting one that died, with a warning)."""
        if self.child is not None and self.child.poll() is None:
            return
        if time.monotonic() - self._last_start < RESTART_INTERVAL_S:
            return
        if self.child is not None:
            log.warning(f"{self.name}_restarted", exit_code=self.child.returncode)
        self._last_start = time.monotonic()
        command = [
            sys.executable,
            "-m",
            "taskkit",
            *self.arguments,
            "--parent-pid",
            str(os.getpid()),
        ]
        env = {**os.environ, **_settings_env(self.settings)}
        self.child = subprocess.Popen(
            command, env=env, start_new_session=True, stdin=subprocess.DEVNULL
        )
        log.info(f"{self.name}_started", pid=self.child.pid)

    def stop(self) -> None:
        """SIGTERM the child's process group; SIGKILL it after 5 s."""
        child, self.child = self.child, None
        if child is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def triggerer_beside(settings: Settings) -> ChildBeside:
    """`taskkit triggerer` as a scheduler's child, started the first time a task defers."""
    return ChildBeside(
        settings,
        ["triggerer", "--dags-folder", str(settings.core.dags_folder), "--log-level", "warning"],
        "triggerer",
    )


def _settings_env(settings: Settings) -> dict[str, str]:
    """Every setting not at its default, as environment variables, so the child agrees."""
    env = {"TASKKIT_HOME": str(settings.home)}
    for name, source in settings.sources.items():
        if source != "default":
            value = settings.get(name)
            if value is not None:
                shown = str(value).lower() if isinstance(value, bool) else str(value)
                env[ENV_PREFIX + name.upper().replace(".", "__")] = shown
    return env
