"""The triggerer: every deferred task's trigger on one asyncio loop, in one process.

It reads the trigger rows of deferred task instances, rebuilds each trigger
from its class path and arguments, and runs them all as tasks of one loop.
The first event a trigger yields (or the error it raises) is written to its
row; that is all it writes (ADR 0009): the scheduler resumes the task. It
keeps no state of its own, so a triggerer killed at any moment loses
nothing: the next one finds every row not fired yet and runs it again.
Of several triggerers on one metastore only the lease holder runs triggers;
the others wait on standby and take over when it dies (metastore/triggerer_lease.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from taskkit import tagged_json
from taskkit.metastore.triggerer_lease import TriggererLease
from taskkit.triggers.running import TriggerLoadError, build_trigger, describe, first_event

if TYPE_CHECKING:
    from taskkit.metastore.records import TriggerRecord
    from taskkit.metastore.store import Metastore

log = structlog.get_logger(__name__)

#: How often new triggers are looked for (and a parent checked for).
POLL_INTERVAL_S = 1.0
#: How often rows whose task instance stopped waiting are removed.
CLEANUP_INTERVAL_S = 30.0


class Triggerer:
    """Runs stored triggers until stopped; see the module docstring."""

    def __init__(
        self,
        store: Metastore,
        *,
        keep_going: Callable[[], bool] = lambda: True,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.store = store
        self.keep_going = keep_going
        self.poll_interval_s = poll_interval_s
        self.running: dict[int, asyncio.Task[None]] = {}
        self.fired = 0
        self._stop: asyncio.Event | None = None

    def run(self) -> int:
        """Run until SIGTERM/SIGINT or until `keep_going()` turns false; triggers fired."""
        asyncio.run(self._main())
        return self.fired

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stop.set)
        log.info("triggerer_started", pid=os.getpid())
        lease = TriggererLease(self.store.engine)
        next_cleanup = 0.0
        try:
            await self._wait_for_lease(lease)
            while lease.held and self.keep_going() and not self._stop.is_set():
                if time.monotonic() >= next_cleanup:
                    removed = await asyncio.to_thread(self.store.delete_stale_triggers)
                    if removed:
                        log.info("stale_triggers_removed", count=removed)
                    next_cleanup = time.monotonic() + CLEANUP_INTERVAL_S
                await self._sync()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval_s)
        finally:
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)
            lease.release()
            log.info("triggerer_stopped", fired=self.fired, left_running=len(self.running))

    async def _wait_for_lease(self, lease: TriggererLease) -> None:
        """Hold the lease before running anything: on standby while another triggerer does."""
        assert self._stop is not None
        standby = False
        while self.keep_going() and not self._stop.is_set():
            try:
                if await asyncio.to_thread(lease.try_acquire):
                    if standby:
                        log.info("triggerer_took_over", pid=os.getpid())
                    return
            except Exception as exc:  # the metastore is away: try again at the next poll
                log.warning(
                    "triggerer_lease_unreadable", error=f"{type(exc).__name__}: {exc}"[:300]
                )
            else:
                if not standby:
                    log.info(
                        "triggerer_standby",
                        hint="another triggerer runs this metastore's triggers; this one "
                        "takes over when it stops",
                    )
                    standby = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_interval_s)

    async def _sync(self) -> None:
        """Start triggers that appeared; cancel those whose task no longer waits on them."""
        try:
            wanted = await asyncio.to_thread(self.store.list_waiting_trigger_ids)
            new = await asyncio.to_thread(self.store.get_triggers, wanted - self.running.keys())
        except Exception as exc:  # the metastore is away: try again at the next poll
            log.warning("triggers_unreadable", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        for trigger_id in self.running.keys() - wanted:
            # Fired (and being recorded), or cleared, marked, timed out: nobody waits any more.
            task = self.running.pop(trigger_id)
            if not task.done():
                task.cancel()
        for record in new:
            if record.id not in self.running:
                self.running[record.id] = asyncio.create_task(self._run_one(record))
        if new:
            log.info("triggers_running", count=len(self.running), new=len(new))

    async def _run_one(self, record: TriggerRecord) -> None:
        key = record.ti
        event: str | None = None
        error: str | None = None
        try:
            trigger = build_trigger(record.classpath, record.kwargs)
            payload = await first_event(trigger)
            event = tagged_json.dumps(payload).decode()
        except asyncio.CancelledError:
            raise
        except TriggerLoadError as exc:
            error = str(exc)
        except Exception as exc:
            error = describe(exc)
        await self._record(record, event, error)
        self.running.pop(record.id, None)
        log.info(
            "trigger_fired" if error is None else "trigger_failed",
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            error=None if error is None else error.splitlines()[0],
        )

    async def _record(self, record: TriggerRecord, event: str | None, error: str | None) -> None:
        """Write the outcome, retrying while the metastore is away (nothing is lost)."""
        delay = 0.5
        while True:
            try:
                if await asyncio.to_thread(
                    self.store.fire_trigger, record.id, event=event, error=error
                ):
                    self.fired += 1
                return
            except Exception as exc:
                log.warning("trigger_write_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


def import_path(dags_folder: str) -> None:
    """Put the DAGs folder on the import path, so triggers defined beside DAGs load."""
    if dags_folder not in sys.path:
        sys.path.append(dags_folder)
