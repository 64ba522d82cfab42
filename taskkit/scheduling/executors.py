"""Which executor the scheduler runs tries on, built from the settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from taskkit.execution.local import LocalExecutor, SequentialExecutor
from taskkit.services.secrets_source import try_environment

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.execution.base import Executor
    from taskkit.execution.workload import Workload

#: Where a workload goes on a distributed executor: its queue and its priority.
Route = Callable[["Workload"], tuple[str, int]]


def make_executor(
    settings: Settings, secret_key: bytes, route: Route, *, wakeup_fd: int | None = None
) -> Executor:
    """The executor `core.executor` names, with `core.parallelism` as its capacity.

    `poll` also returns when `wakeup_fd` is readable (the caller drains it): at once for the
    local executors, within `WAKE_UP_SLICE_S` for Celery's.
    """
    parallelism = settings.core.parallelism
    if settings.core.executor == "sequential":
        return SequentialExecutor(
            secret_key, try_environment=try_environment(settings), wakeup_fd=wakeup_fd
        )
    if settings.core.executor == "celery":
        # Lazy: the Celery executor's modules (~90 ms) load only when it is the one chosen.
        from taskkit.execution.celery_executor import CeleryExecutor

        return CeleryExecutor(
            settings.celery,
            capacity=parallelism,
            secret_key=secret_key,
            metastore_url=settings.database.sql_alchemy_conn,
            route=route,
            heartbeat_timeout_s=settings.scheduler.task_heartbeat_timeout,
            wakeup_fd=wakeup_fd,
        )
    return LocalExecutor(
        parallelism,
        secret_key,
        reuse_processes=settings.local.reuse_processes,
        reuse_max_rss_mb=settings.local.reuse_max_rss_mb,
        reuse_idle_timeout=settings.local.reuse_idle_timeout,
        try_environment=try_environment(settings),
        wakeup_fd=wakeup_fd,
    )
