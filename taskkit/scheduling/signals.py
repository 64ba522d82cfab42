"""SIGINT/SIGTERM ask the scheduler to drain; a second signal stops it at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_requests(on_stop: Callable[[str], None], stopping: Callable[[], bool]) -> Iterator[None]:
    """While inside, the first SIGINT/SIGTERM calls `on_stop(name)`; a second interrupts.

    Outside the main thread (a scheduler run from a test's thread) signals
    cannot be handled, so nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if stopping():
            raise KeyboardInterrupt  # a second signal: stop now
        on_stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
