"""A Celery thread pool that can grow and shrink, so Celery's own autoscaler can size it.

Celery's `threads` pool has a fixed size; its autoscaler needs `grow`,
`shrink` and `num_processes`, which only the prefork and green pools have.
Each thread here only waits for one try (the try itself runs in a process
forked from the zygote), so threads are cheap to add and to retire: a
retired thread leaves after the request it is running, never during it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from celery.concurrency.base import BasePool, apply_target

#: Put on the work queue to retire one thread.
_RETIRE = None


class _Applied:
    """What Celery's request keeps of an applied job (it only needs the object to exist)."""

    def wait(self, timeout: float | None = None) -> None:
        pass


class ResizableThreadPool(BasePool):  # type: ignore[misc]
    """Threads that run Celery requests; `grow(n)`/`shrink(n)` change how many at once.

    `before_stop` runs when Celery stops the pool (warm shutdown, after it
    stopped consuming): the worker drains its tries there.
    """

    body_can_be_buffer = True
    signal_safe = False
    before_stop: Callable[[], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._work: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        self._size = 0
        self._lock = threading.Lock()

    def on_start(self) -> None:
        self.grow(self.limit)

    def on_stop(self) -> None:
        if self.before_stop is not None:
            self.before_stop()
        with self._lock:
            threads = list(self._threads)
            self._size = 0
        for _ in threads:
            self._work.put(_RETIRE)
        for thread in threads:
            thread.join()

    def on_apply(
        self,
        target: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Any = None,
        accept_callback: Any = None,
        **_: Any,
    ) -> _Applied:
        self._work.put((target, args, kwargs, callback, accept_callback))
        return _Applied()

    def grow(self, n: int = 1) -> None:
        """Start `n` more threads."""
        with self._lock:
            for _ in range(n):
                thread = threading.Thread(target=self._serve, name="taskkit-celery", daemon=True)
                self._threads.add(thread)
                thread.start()
            self._size += n
            self.limit = self._size

    def shrink(self, n: int = 1) -> None:
        """Retire `n` threads (each after the request it is running, if any)."""
        with self._lock:
            n = min(n, self._size)
            self._size -= n
            self.limit = self._size
        for _ in range(n):
            self._work.put(_RETIRE)

    @property
    def num_processes(self) -> int:
        """Threads serving now; before the pool starts, the size it will start with."""
        return self._size if self._threads else int(self.limit)

    def _serve(self) -> None:
        try:
            while (job := self._work.get()) is not _RETIRE:
                target, args, kwargs, callback, accept_callback = job
                apply_target(target, args or (), kwargs or {}, callback, accept_callback)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _get_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super()._get_info()
        info.update({"max-concurrency": self._size, "threads": len(self._threads)})
        return info


def pool_class(before_stop: Callable[[], None]) -> type[ResizableThreadPool]:
    """A ResizableThreadPool class whose pool calls `before_stop` when Celery stops it."""
    hook = {"before_stop": staticmethod(before_stop)}
    return type("TaskkitThreadPool", (ResizableThreadPool,), hook)
