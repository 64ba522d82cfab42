"""The worker's thread pool grows and shrinks as Celery's autoscaler asks, never mid-request."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("celery", reason="install taskkit[celery] to test the Celery executor")

from taskkit.execution.celery_pool import pool_class


def _peak_concurrency(pool: object, jobs: int, size: int) -> int:
    """Apply `jobs` requests that hold until `size` of them run at once; the most seen at once."""
    lock = threading.Condition()
    running = peak = 0
    release = threading.Event()
    done = threading.Semaphore(0)

    def job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            lock.notify_all()
        release.wait(10)
        with lock:
            running -= 1
        done.release()

    for _ in range(jobs):
        pool.apply_async(job, callback=lambda result: None)  # type: ignore[attr-defined]
    with lock:
        assert lock.wait_for(lambda: running == size, timeout=10)
        lock.wait(0.3)  # a window for one request too many to start, if the pool allowed it
    release.set()
    for _ in range(jobs):
        assert done.acquire(timeout=10)
    return peak


def test_the_pool_runs_as_many_requests_at_once_as_its_size() -> None:
    """Size 1 runs one request at a time; grown by 2 it runs three; shrunk by 2, one again."""
    stopped: list[bool] = []
    pool = pool_class(lambda: stopped.append(True))(1)
    pool.start()
    try:
        assert pool.num_processes == 1
        assert _peak_concurrency(pool, 4, 1) == 1

        pool.grow(2)
        assert pool.num_processes == 3
        assert _peak_concurrency(pool, 6, 3) == 3

        pool.shrink(2)
        assert pool.num_processes == 1
        assert _peak_concurrency(pool, 3, 1) == 1
    finally:
        pool.stop()
    assert stopped == [True]  # the worker's drain hook ran when Celery stopped the pool
