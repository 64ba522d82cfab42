"""A DAG's on_success_callback / on_failure_callback, called when one of its runs ends.

`call_dag_callbacks` is the one way they are called: in process by
DAG.test(), and by the scheduler in a child process of its own
(`DagCallbackRunner`), so a slow, hanging or crashing callback never stalls
the scheduling loop: it is killed past CALLBACK_TIMEOUT and its output and
errors go to the run's `@dag_callbacks.log`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.authoring.context import DagRunInfo, dag_base_context

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG


def _log() -> Any:
    """This module's logger, made on first use.

    DAG.test() imports this module; structlog pulls in asyncio and ssl, which
    would more than double what a cold DAG.test() spends on imports.
    """
    import structlog  # lazy: see the docstring

    return structlog.get_logger(__name__)


#: How long a DAG's callbacks may run, in all, before the scheduler kills them.
CALLBACK_TIMEOUT_S = 60.0
#: The log of a run's DAG callbacks; '@' cannot appear in a task id, so it never clashes.
LOG_NAME = "@dag_callbacks.log"


@attrs.frozen
class DagCallbackRequest:
    """What a callback process needs: the DAG version (already verified), the run, the outcome."""

    payload: bytes = attrs.field(repr=False)
    run: DagRunInfo
    success: bool
    reason: str


def end_reason(succeeded: bool, timed_out: bool) -> str:
    """Why a run ended, as Airflow names it in a DAG callback's context."""
    if succeeded:
        return "success"
    return "timed_out" if timed_out else "task_failure"


def call_dag_callbacks(dag: DAG, run: DagRunInfo, *, success: bool, reason: str) -> None:
    """Call the DAG's success or failure callbacks with the run's context; errors are printed.

    The context is the run's (dag_run, params, logical_date, ...) plus
    `reason` ("success" or "task_failure"), as Airflow passes it.
    """
    context = {**dag_base_context(run, dag), "dag": dag, "reason": reason}
    callbacks = dag.on_success_callback if success else dag.on_failure_callback
    name = "on_success_callback" if success else "on_failure_callback"
    for callback in callbacks:
        try:
            callback(context)
        except Exception as exc:
            label = getattr(callback, "__name__", repr(callback))
            print(f"DAG {name} {label} failed:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)


class DagCallbackRunner:
    """Runs DAG callbacks in child processes for the scheduler; never waits on one."""

    def __init__(self, logs_folder: Path, timeout_s: float | None = None) -> None:
        self.logs_folder = logs_folder
        self.timeout_s = CALLBACK_TIMEOUT_S if timeout_s is None else timeout_s
        self._children: list[tuple[subprocess.Popen[bytes], float, str]] = []

    def submit(self, request: DagCallbackRequest) -> None:
        """Start the callbacks of one finished run in a fresh process."""
        folder = self.logs_folder / request.run.dag_id / request.run.run_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / LOG_NAME
        with path.open("ab") as output:
            child = subprocess.Popen(
                [sys.executable, "-m", "taskkit.execution.dag_callbacks"],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=output,
                start_new_session=True,  # its own group: a timeout kills what it started too
            )
        assert child.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            child.stdin.write(pickle.dumps(request))
        child.stdin.close()
        self._children.append((child, time.monotonic() + self.timeout_s, str(path)))

    def reap(self) -> None:
        """Forget finished callback processes; kill those past their timeout."""
        now = time.monotonic()
        alive = []
        for child, deadline, path in self._children:
            if child.poll() is not None:
                if child.returncode:
                    _log().warning("dag_callbacks_failed", exit_code=child.returncode, log=path)
                continue
            if now >= deadline:
                _kill(child)
                _log().warning("dag_callbacks_timed_out", timeout_s=self.timeout_s, log=path)
                continue
            alive.append((child, deadline, path))
        self._children = alive

    def running(self) -> int:
        return len(self._children)

    def drain(self, grace: float) -> None:
        """At shutdown: let callbacks finish for up to `grace` seconds, then kill the rest."""
        end = time.monotonic() + grace
        while self._children and time.monotonic() < end:
            self.reap()
            time.sleep(0.02)
        for child, _, _ in self._children:
            _kill(child)
        self._children = []


def _kill(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def main() -> None:
    """The callback process: read one request on stdin, call the callbacks, exit."""
    # serde brings cloudpickle; the payload was verified by the scheduler that sent it.
    from taskkit import serde

    request: DagCallbackRequest = pickle.loads(sys.stdin.buffer.read())
    dag: Any = serde.loads_dag(request.payload)
    kind = "success" if request.success else "failure"
    print(
        f"Calling the {kind} callbacks of run {request.run.run_id!r} ({request.reason})", flush=True
    )
    call_dag_callbacks(dag, request.run, success=request.success, reason=request.reason)


if __name__ == "__main__":
    main()
