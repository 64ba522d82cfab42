"""CeleryExecutor: tries go to Celery workers through a broker; reports come back on a queue.

The scheduler still decides everything before a try is sent (parallelism,
pools, per-DAG limits, priority); this executor only routes each chosen try
to the Celery queue its operator names, with a broker priority derived from
its priority_weight_total, and turns what workers report on the event channel
(see celery_app.py) into the TryStarted/TryFinished events the scheduler
records. A started try whose worker stops beating for
`scheduler.task_heartbeat_timeout` seconds is reported failed ("lost").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs
import structlog

from taskkit.execution.base import TI, DagPayload, Event, TryFinished, TryStarted
from taskkit.execution.celery_app import (
    RUN_TRY,
    WorkerBeat,
    broker_priority,
    events_queue_name,
    is_redis,
    make_app,
    scheduler_channel_name,
    seal,
)
from taskkit.execution.celery_channel import BATCH, EventChannel, event_channel
from taskkit.execution.workload import Workload
from taskkit.model.results import TryOutcome, TryResult
from taskkit.states import State

if TYPE_CHECKING:
    from celery import Celery

    from taskkit.config import CelerySettings
    from taskkit.model.keys import TaskInstanceKey

log = structlog.get_logger(__name__)

#: (workload) -> (the operator's queue, its priority_weight_total).
Route = Callable[[Workload], tuple[str, int]]
_Ident = tuple["TaskInstanceKey", int]

#: The key under which the executor leaves a mark in a Redis broker, to tell after a
#: reconnection whether the broker restarted empty (and messages were lost).
_MARK = "taskkit:broker-mark:"

#: With a wake-up fd, a wait for events blocks in the broker this long at a time, then looks
#: at the fd: the broker's blocking read cannot also watch it.
WAKE_UP_SLICE_S = 0.05


@attrs.define
class _Flight:
    """A try sent to the broker and not finished yet."""

    workload: Workload | None  # None for a try adopted from a previous scheduler
    celery_id: str | None = None  # the broker message's id, to revoke it
    shared: bool = False  # the message carries other tries too: it is never revoked
    started: bool = False
    seen: float = attrs.Factory(time.monotonic)  # last sign of life (sent, started, beat)
    host: str | None = None


class CeleryExecutor:
    """Sends tries to Celery workers and reports their events; capacity = core.parallelism."""

    #: Tries run on workers, not under the scheduler: a successor can take them over.
    adopts_tries = True

    def __init__(
        self,
        config: CelerySettings,
        *,
        capacity: int,
        secret_key: bytes,
        metastore_url: str,
        route: Route,
        heartbeat_timeout_s: float,
        wakeup_fd: int | None = None,
    ) -> None:
        self.capacity = capacity
        #: Readable when a run was triggered on this host (the scheduler drains it).
        self.wakeup_fd = wakeup_fd
        self.config = config
        self.secret_key = secret_key
        self.route = route
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.metastore_url = metastore_url
        self.events_queue = events_queue_name(metastore_url)
        self.hostname = socket.gethostname()
        self.redis = is_redis(config.broker_url)
        self._app: Celery | None = None
        self._channel = event_channel(config.events_url, self.events_queue, secret_key)
        self._in_flight: dict[_Ident, _Flight] = {}
        #: Tries submitted since the last poll, by (Celery queue, broker priority): sent there.
        self._outbox: dict[tuple[str, int], list[Workload]] = {}
        self._buffered: list[object] = []
        self._mark = ""
        #: The event channel was lost: check the broker's mark once it answers again.
        self._reconnecting = False
        #: Channels of dead schedulers whose tries were adopted, read until those finish.
        self._inherited: list[EventChannel] = []

    def join(self, scheduler_id: int) -> None:
        """Report on this scheduler's own channel: several share the metastore (PostgreSQL)."""
        self._channel.close()
        self.events_queue = scheduler_channel_name(self.metastore_url, scheduler_id)
        self._channel = event_channel(self.config.events_url, self.events_queue, self.secret_key)

    def start(self) -> None:
        self._app = make_app(self.config)
        self._app.connection_for_write().ensure_connection(max_retries=None, interval_max=2)
        self._mark = self._set_mark() or ""

    def submit(self, workload: Workload, dag: DagPayload | None) -> None:
        """Queue `workload` for the next poll, which sends it with the others of its queue."""
        self._in_flight[workload.key, workload.try_number] = _Flight(workload)
        self._outbox.setdefault(self._destination(workload), []).append(workload)

    def cancel(self, key: TaskInstanceKey, try_number: int) -> None:
        """Take back a try not sent yet, or revoke it in the broker if its message holds only it.

        A try already running on a worker runs to its end (its result is then
        stale and ignored; docs/distributed.md says so); one sent in a message
        with others is dropped by the worker, for it is no longer due.
        """
        flight = self._in_flight.get((key, try_number))
        if flight is None or flight.started:
            return
        del self._in_flight[key, try_number]
        if flight.celery_id is None and flight.workload is not None:
            waiting = self._outbox.get(self._destination(flight.workload), [])
            with contextlib.suppress(ValueError):
                waiting.remove(flight.workload)
        elif flight.celery_id is not None and not flight.shared:
            self._celery().control.revoke(flight.celery_id)

    def _destination(self, workload: Workload) -> tuple[str, int]:
        """The Celery queue and broker priority of a try."""
        queue, weight = self.route(workload)
        if queue == "default":  # the operator did not choose: the configured default
            queue = self.config.default_queue
        return queue, broker_priority(weight, redis=self.redis)

    def _send_outbox(self) -> None:
        """Send what was submitted: up to celery.tries_per_message tries per broker message."""
        outbox, self._outbox = self._outbox, {}
        size = self.config.tries_per_message
        for (queue, priority), workloads in outbox.items():
            for start in range(0, len(workloads), size):
                batch = workloads[start : start + size]
                celery_id = self._send(batch, queue, priority)
                for workload in batch:
                    flight = self._in_flight.get((workload.key, workload.try_number))
                    if flight is not None:
                        flight.celery_id, flight.shared = celery_id, len(batch) > 1
                        flight.seen = time.monotonic()

    def _send(self, workloads: Sequence[Workload], queue: str, priority: int) -> str | None:
        """Publish one message holding `workloads`; returns its id.

        A lone try is sealed as itself, as before messages held several, so workers
        of either version run it during a rolling upgrade.
        """
        body = workloads[0] if len(workloads) == 1 else tuple(workloads)
        sent = self._celery().send_task(
            RUN_TRY,
            args=[self.events_queue, seal(body, self.secret_key), self.hostname],
            queue=queue,
            priority=priority,
        )
        return None if sent is None else str(sent.id)

    def poll(self, timeout: float) -> list[Event]:
        self._send_outbox()
        # The scheduler committed what the last poll returned before calling again.
        self._channel.ack()
        for channel in self._inherited:
            channel.ack()
        return self._receive(timeout)

    def _receive(self, timeout: float) -> list[Event]:
        received, self._buffered = self._buffered, []
        drained = True
        try:
            for channel in self._inherited:  # a dead scheduler's adopted tries report here
                received.extend(channel.receive(0))
            fresh = self._wait(timeout if not received else 0)
            drained = len(fresh) < BATCH
            received.extend(fresh)
        except ConnectionError as exc:
            log.warning("celery_event_channel_lost", error=str(exc))
            time.sleep(min(timeout, 0.5))
            self._reconnecting = True
            drained = False
        events = self._fold(received)  # tries reported started now are not resent below
        if self._reconnecting and drained:
            self._after_reconnect()
        if drained:
            events.extend(self._lost_tries())
        if self._inherited and all(f.workload is not None for f in self._in_flight.values()):
            self._drop_inherited()
        return events

    def _wait(self, timeout: float) -> list[object]:
        """Events from the channel, blocking up to `timeout` for the first, or until woken."""
        if self.wakeup_fd is None or timeout <= WAKE_UP_SLICE_S:
            return self._channel.receive(timeout)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            fresh = self._channel.receive(max(min(left, WAKE_UP_SLICE_S), 0))
            if fresh or left <= WAKE_UP_SLICE_S or select.select([self.wakeup_fd], [], [], 0)[0]:
                return fresh

    def _drop_inherited(self) -> None:
        """Every adopted try has finished: delete the dead schedulers' channels (and marks)."""
        for channel in self._inherited:
            channel.ack()
            channel.delete()
            self._forget_mark(channel.queue_name)
        log.info("celery_inherited_channels_deleted", count=len(self._inherited))
        self._inherited = []

    def _fold(self, received: list[object]) -> list[Event]:
        """Keep bookkeeping from every report; return the scheduler's events."""
        events: list[Event] = []
        now = time.monotonic()
        for item in received:
            if isinstance(item, WorkerBeat):
                for ident in item.tries:
                    flight = self._in_flight.get(ident)
                    if flight is not None:
                        flight.started, flight.seen, flight.host = True, now, item.hostname
                continue
            if not isinstance(item, (TryStarted, TryFinished)):
                continue
            ident = (item.key, item.try_number)
            flight = self._in_flight.get(ident)
            if isinstance(item, TryFinished):
                self._in_flight.pop(ident, None)
            elif flight is not None:
                flight.started, flight.seen, flight.host = True, now, item.hostname
            events.append(item)
        return events

    def _lost_tries(self) -> list[Event]:
        """Started tries whose worker has been silent too long are over: failed, "lost"."""
        cutoff = time.monotonic() - self.heartbeat_timeout_s
        lost: list[Event] = []
        for ident, flight in list(self._in_flight.items()):
            if flight.started and flight.seen < cutoff:
                del self._in_flight[ident]
                error = (
                    f"the Celery worker on {flight.host or 'an unknown host'} sent no heartbeat "
                    f"for {self.heartbeat_timeout_s:g}s; the try was lost (worker killed?)"
                )
                log.warning("celery_try_lost", key=str(ident[0]), try_number=ident[1], error=error)
                result = TryResult(TryOutcome.FAILED, error=error)
                lost.append(TryFinished(ident[0], ident[1], result, at=_utcnow()))
        return lost

    def _after_reconnect(self) -> None:
        """Give workers a fresh heartbeat deadline; if the broker came back empty, resend.

        Called once the event channel answers again; until the broker's mark can
        be read (the broker is back) it is called again on the next poll.
        Unstarted tries are resent only when the broker lost them (a Redis without
        persistence); a broker that kept its data (RabbitMQ's durable queues, a
        persistent Redis) still holds them, and resending would make duplicates.
        """
        mark = self._set_mark()
        if mark is None:  # the broker is not back yet
            return
        self._reconnecting = False
        # Workers could not beat while the channel was down: their silence was the broker's.
        now = time.monotonic()
        for flight in self._in_flight.values():
            flight.seen = max(flight.seen, now)
        if mark == self._mark:
            return
        self._mark = mark
        resent = 0
        self._outbox = {}
        for flight in self._in_flight.values():
            if not flight.started and flight.workload is not None:
                self._outbox.setdefault(self._destination(flight.workload), []).append(
                    flight.workload
                )
                resent += 1
        self._send_outbox()
        log.warning("celery_broker_restarted_empty", resent=resent)

    def _set_mark(self) -> str | None:
        """The broker's mark: the old one if it survived, else a new one; None: no answer."""
        if not self.redis:
            return "durable"
        # Lazy: the redis client is needed only with a Redis broker (RabbitMQ has durable queues).
        import redis

        client = redis.Redis.from_url(self.config.broker_url, socket_timeout=5)
        try:
            key = _MARK + self.events_queue
            client.set(key, uuid.uuid4().hex, nx=True)
            value = client.get(key)
            return value.decode() if isinstance(value, bytes) else str(value)
        except redis.RedisError:
            return None
        finally:
            client.close()

    def _forget_mark(self, queue: str) -> None:
        """Delete a dead channel's broker mark (Redis only)."""
        if not self.redis:
            return
        import redis  # lazy: see _set_mark

        client = redis.Redis.from_url(self.config.broker_url, socket_timeout=5)
        try:
            client.delete(_MARK + queue)
        except redis.RedisError:
            pass  # a few bytes left behind
        finally:
            client.close()

    def running(self) -> int:
        return len(self._in_flight)

    def adopt(self, tis: Sequence[TI], previous: Sequence[int] = ()) -> list[TI]:
        """Take over the tries a previous scheduler sent; return those it cannot vouch for.

        `previous` names the dead schedulers (several on PostgreSQL) whose
        tries these are: their channels are read from now on, until every
        adopted try has finished, and then deleted. Without it, the previous
        scheduler is this one's predecessor on its own channel (SQLite).
        Running ones keep running on their workers: their reports arrive on
        those channels and their heartbeats are watched from now on. A
        queued one whose start is already on the channel is adopted too; other
        queued ones are returned to be rescheduled as a new try (their old
        message, if a worker ever gets it, is dropped as no longer due).
        """
        channels = [
            event_channel(
                self.config.events_url,
                scheduler_channel_name(self.metastore_url, dead),
                self.secret_key,
            )
            for dead in previous
        ]
        self._inherited.extend(channels)
        found: list[object] = []
        for channel in channels or [self._channel]:
            with contextlib.suppress(ConnectionError):  # adopted ones report later
                found.extend(channel.receive(0.2))
        self._buffered.extend(found)
        started = {(e.key, e.try_number) for e in self._buffered if isinstance(e, TryStarted)}
        for beat in self._buffered:
            if isinstance(beat, WorkerBeat):
                started.update(beat.tries)
        orphans: list[TI] = []
        for ti in tis:
            ident = (ti.key, ti.try_number)
            if ti.state is State.RUNNING or ident in started:
                self._in_flight[ident] = _Flight(None, started=True, host=ti.hostname)
            else:
                orphans.append(ti)
        log.info(
            "celery_tries_adopted",
            count=len(tis) - len(orphans),
            rescheduled=len(orphans),
            previous=list(previous),
        )
        return orphans

    def shutdown(self, grace: float) -> list[Event]:
        """Wait up to `grace` for running tries; the rest go on running, for the next scheduler."""
        self._send_outbox()  # their task instances are queued: a successor adopts them
        events: list[Event] = []
        deadline = time.monotonic() + grace
        while self._in_flight and time.monotonic() < deadline:
            events.extend(self._receive(min(0.5, max(deadline - time.monotonic(), 0))))
        # Not acknowledged: whatever the scheduler fails to commit now is delivered again.
        self._channel.close()
        for channel in self._inherited:
            channel.close()
        if self._app is not None:
            self._app.close()
        return events

    def _celery(self) -> Celery:
        if self._app is None:
            raise RuntimeError("the executor was not started")
        return self._app


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
