"""Run one try of an operator: render its templates, call it, and turn the outcome into a TryResult.

This is the user-code boundary: whatever the task raises is recorded as the
try's error (with its traceback on stderr, which is the try's log), never
re-raised as a taskkit error. Both DAG.test() and the worker processes use it.
"""

from __future__ import annotations

import copy
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from taskkit.authoring.context import active_context
from taskkit.authoring.templating import render
from taskkit.errors import TaskSkipped, TaskTimeoutError
from taskkit.model.results import TryOutcome, TryResult

if TYPE_CHECKING:
    import datetime as dt

    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.context import Context


def execute_try(operator: BaseOperator, context: Context) -> TryResult:
    """Run `operator` once with `context`; never raises for the task's own errors."""
    started = time.perf_counter()
    try:
        with active_context(context), _alarm(operator.execution_timeout):
            task = render_fields(operator, context)
            value = task.execute(context)
    except TaskSkipped as skip:
        return TryResult(
            TryOutcome.SKIPPED, error=str(skip) or None, duration_s=time.perf_counter() - started
        )
    except BaseException as exc:  # user code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        # Imported here, not at the top: traceback pulls in textwrap and its regexes, which
        # cost a cold DAG.test() milliseconds although only failing tries need them.
        import traceback

        traceback.print_exc()
        return TryResult(
            TryOutcome.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            duration_s=time.perf_counter() - started,
        )
    return TryResult(TryOutcome.SUCCESS, value=value, duration_s=time.perf_counter() - started)


def render_fields(operator: BaseOperator, context: Context) -> BaseOperator:
    """The operator with its template fields rendered; a copy, so the original stays reusable."""
    rendered: dict[str, Any] = {}
    for field in operator.template_fields:
        value = getattr(operator, field)
        new = render(value, context)
        if new is not value:
            rendered[field] = new
    if not rendered:
        return operator
    task = copy.copy(operator)
    for field, value in rendered.items():
        setattr(task, field, value)
    return task


@contextmanager
def _alarm(timeout: dt.timedelta | None) -> Iterator[None]:
    """Raise TaskTimeoutError in the task after `timeout`, where signals allow it.

    Worker processes are also killed by their parent past the timeout; this
    makes the in-process runner (DAG.test) honour it too.
    """
    if timeout is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    seconds = timeout.total_seconds()

    def on_alarm(signum: int, frame: object) -> None:
        raise TaskTimeoutError(f"execution_timeout of {seconds:g}s exceeded")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
