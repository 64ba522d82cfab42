"""The event channel: workers publish try events on it, the scheduler receives them in batches.

One queue per scheduler (`celery_app.scheduler_channel_name`; per metastore on
SQLite, where one scheduler runs), named in each workload message, so two
schedulers never consume each other's reports; the scheduler that adopts a
dead one's tries reads that one's channel too, then deletes it. Delivery is
at least once: the scheduler acknowledges what it received only after
committing it, and what is unacknowledged when a connection or a scheduler
goes away is delivered again (the scheduler ignores duplicate reports).
Every message is a sealed event (celery_app.seal); anything else is logged once
and dropped, never unpickled.

Two implementations share that contract. On Redis the channel is a plain list
driven with redis-py (one LPUSH per event; one script call moves a whole
batch to an "unacknowledged" list; one DEL acknowledges it), because kombu's
Redis transport costs a `basic_get`, QoS bookkeeping and an acknowledgement
per message, which bounded the Celery path (docs/performance.md). On other
brokers (RabbitMQ) it is a durable kombu queue.
"""

from __future__ import annotations

import contextlib
import time
from queue import Empty
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from taskkit.errors import BrokerMessageError
from taskkit.execution.celery_app import (
    is_redis,
    open_message,
    seal,
    unseal,
)

if TYPE_CHECKING:
    import redis
    from kombu import Connection
    from kombu.simple import SimpleQueue

log = structlog.get_logger(__name__)

#: What `KombuEventChannel._open_message` returns for a message it dropped.
_DROPPED = object()
#: How long a reader waits on the socket for the next message of a batch already started.
_SOCKET_POLL_S = 0.001
#: The longest a Redis reader blocks at once (under its socket's 30-s timeout).
LONGEST_REDIS_BLOCK_S = 10.0
#: Most events one `receive` returns (the scheduler commits them in one transaction).
BATCH = 2000


class EventChannel(Protocol):
    """One end of the event channel: publish (workers) or receive and acknowledge (scheduler)."""

    #: The channel's name on the broker.
    queue_name: str

    def publish(self, event: object) -> None:
        """Send one event, reconnecting and retrying until the broker takes it."""

    def receive(self, timeout: float, limit: int = BATCH) -> list[object]:
        """Events waiting now (blocking up to `timeout` for the first); ConnectionError if lost."""
        ...

    def ack(self) -> None:
        """Acknowledge everything received so far (the scheduler has committed it)."""

    def close(self) -> None:
        """Close without acknowledging: what was not acknowledged is delivered again."""

    def delete(self) -> None:
        """Remove the channel from the broker (a dead scheduler's, once drained); never raises."""


def event_channel(url: str, queue: str, key: bytes) -> EventChannel:
    """The event channel named `queue` on the broker at `url`."""
    if is_redis(url):
        return RedisEventChannel(url, queue, key)
    return KombuEventChannel(url, queue, key)


#: Move up to ARGV[1] of the oldest events from KEYS[1] (LPUSHed: the oldest at the right)
#: to the end of the unacknowledged list KEYS[2], atomically; return them oldest first.
_TAKE_BATCH = """
local items = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
local n = #items
if n == 0 then return items end
redis.call('LTRIM', KEYS[1], 0, -n - 1)
local oldest_first = {}
for i = n, 1, -1 do oldest_first[n - i + 1] = items[i] end
redis.call('RPUSH', KEYS[2], unpack(oldest_first))
return oldest_first
"""


class RedisEventChannel:
    """The event channel as a Redis list: LPUSH to publish, batches moved to `<queue>.unacked`.

    `receive` first returns what a previous reader left unacknowledged (it
    crashed, or its connection broke before `ack`), then moves new events to
    the unacknowledged list in one atomic step; `ack` deletes that list. One
    scheduler reads a channel at a time (its own, or a dead one's it adopted),
    so one unacknowledged list per channel is enough.
    """

    def __init__(self, url: str, queue: str, key: bytes) -> None:
        self.url = url
        self.queue_name = queue
        self.unacked_name = queue + ".unacked"
        self.key = key
        self._client: redis.Redis | None = None
        self._take: Any = None
        #: Whether the unacknowledged list was read since this reader (re)connected.
        self._recovered = False

    def _redis(self) -> redis.Redis:
        if self._client is None:
            import redis  # lazy: with a Redis broker only (see celery_app.make_app)

            # The socket timeout stays above the longest blocking read (see receive).
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=30, socket_connect_timeout=5
            )
            self._take = self._client.register_script(_TAKE_BATCH)
        return self._client

    def _lost(self) -> tuple[type[BaseException], ...]:
        import redis  # lazy: see _redis

        return (OSError, redis.ConnectionError, redis.TimeoutError)

    def publish(self, event: object) -> None:
        sealed = seal(event, self.key)
        pause = 0.2
        while True:
            try:
                self._redis().lpush(self.queue_name, sealed)
            except self._lost():
                self.reset()
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            return

    def receive(self, timeout: float, limit: int = BATCH) -> list[object]:
        """Events waiting now, oldest first (blocking up to `timeout`, at most
        LONGEST_REDIS_BLOCK_S, for one)."""
        try:
            raw = self._take_raw(timeout, limit)
        except self._lost() as exc:
            self.reset()
            raise ConnectionError(str(exc)) from exc
        return [event for event in map(self._open, raw) if event is not _DROPPED]

    def _take_raw(self, timeout: float, limit: int) -> list[bytes | str]:
        client = self._redis()
        if not self._recovered:  # a crashed reader's batch comes first, in order
            self._recovered = True
            left: list[bytes | str] = client.lrange(self.unacked_name, 0, -1)
            if left:
                return left
        taken = self._take_batch(limit)
        if taken or timeout <= 0:
            return taken
        first = client.blmove(
            self.queue_name,
            self.unacked_name,
            min(timeout, LONGEST_REDIS_BLOCK_S),  # type: ignore[arg-type]  # Redis takes fractions of a second
            src="RIGHT",
            dest="RIGHT",
        )
        if first is None:
            return []
        return [first, *self._take_batch(limit - 1)]

    def _take_batch(self, limit: int) -> list[bytes | str]:
        if limit < 1:
            return []
        return list(self._take(keys=[self.queue_name, self.unacked_name], args=[limit]))

    def _open(self, raw: bytes | str) -> object:
        """The event in one list item, or _DROPPED after one warning (it is acknowledged later)."""
        try:
            return unseal(raw.decode("ascii") if isinstance(raw, bytes) else raw, self.key)
        except (BrokerMessageError, UnicodeDecodeError, ValueError, TypeError) as exc:
            log.warning(
                "celery_event_dropped", queue=self.queue_name, reason=str(exc) or type(exc).__name__
            )
        return _DROPPED

    def ack(self) -> None:
        try:
            self._redis().delete(self.unacked_name)
        except self._lost():
            self.reset()  # delivered again after the reconnection; duplicates are ignored

    def reset(self) -> None:
        """Drop the connection (after an error); the next call reconnects and recovers."""
        if self._client is not None:
            with contextlib.suppress(Exception):  # it is already broken
                self._client.close()
        self._client = None
        self._recovered = False

    def close(self) -> None:
        self.reset()

    def delete(self) -> None:
        with contextlib.suppress(*self._lost()):
            self._redis().delete(self.queue_name, self.unacked_name)
        self.reset()


class KombuEventChannel:
    """The event channel as a durable kombu queue: RabbitMQ (and any other kombu transport).

    Received messages are acknowledged only by `ack`, which the executor calls
    once the scheduler has committed them; whatever is unacknowledged when the
    connection goes away is delivered again (at least once).
    """

    def __init__(self, url: str, queue: str, key: bytes) -> None:
        self.url = url
        self.queue_name = queue
        self.key = key
        self._connection: Connection | None = None
        self._queue: SimpleQueue | None = None
        self._unacked: list[Any] = []
        self._lost: tuple[type[BaseException], ...] | None = None

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        """What means "the broker went away" here: OSError and the transport's own errors.

        redis-py's ConnectionError and kombu's InconsistencyError (a restarted, empty
        Redis lost the queue's binding) are not OSErrors.
        """
        if self._lost is None:
            # Lazy: see celery_app.make_app.
            from kombu import Connection
            from kombu.exceptions import OperationalError

            probe = Connection(self.url)  # not connected: only asks its transport
            transport = [e for e in probe.connection_errors if e is not KeyError]  # Redis lists it
            self._lost = (OSError, OperationalError, *transport)
            probe.release()
        return self._lost

    def _open(self) -> SimpleQueue:
        if self._queue is None:
            # Lazy: see celery_app.make_app.
            from kombu import Connection

            self._connection = Connection(self.url, transport_options={"confirm_publish": True})
            self._connection.ensure_connection(max_retries=None, interval_start=0.2, interval_max=2)
            # accept=["json"]: kombu would otherwise decode (unpickle!) any content type.
            self._queue = self._connection.SimpleQueue(
                self.queue_name, serializer="json", accept=["json"]
            )
            # A body that cannot be decoded fails inside kombu's delivery callback (AMQP).
            self._queue.consumer.on_decode_error = self._drop
        return self._queue

    def reset(self) -> None:
        """Drop the connection (after an error); the next call reconnects."""
        self._unacked = []  # redelivered by the broker: their delivery tags are void
        if self._connection is not None:
            with contextlib.suppress(Exception):  # it is already broken
                self._connection.release()
        self._connection = None
        self._queue = None

    def publish(self, event: object) -> None:
        """Send one event, reconnecting and retrying until the broker takes it."""
        body = {"sealed": seal(event, self.key)}
        lost = self._connection_errors()
        while True:
            try:
                self._open().put(body, delivery_mode=2)
            except lost:
                self.reset()
                continue
            return

    def receive(self, timeout: float, limit: int = BATCH) -> list[object]:
        """Events waiting now (blocking up to `timeout` for the first); acknowledge with `ack`.

        A message that is not a sealed taskkit event (forged, garbled, signed
        with another key) is logged as one warning and acknowledged at once:
        it is dropped, so it can neither stop the caller nor come back.
        Raises ConnectionError if the broker went away (the caller resets and retries).
        """
        found: list[object] = []
        try:
            queue = self._open()
            # Always as a consumer: the broker streams messages ahead, and `get_nowait`'s
            # basic_get would miss those already delivered to the consumer's buffer.
            message = queue.get(block=True, timeout=max(timeout, _SOCKET_POLL_S))
            while True:
                event = self._open_message(message)
                if event is not _DROPPED:
                    self._unacked.append(message)
                    found.append(event)
                    if len(found) >= limit:
                        break
                message = queue.get(block=True, timeout=_SOCKET_POLL_S)
        except Empty:
            pass
        except self._connection_errors() as exc:
            self.reset()
            raise ConnectionError(str(exc)) from exc
        return found

    def _open_message(self, message: Any) -> object:
        """The event in `message`, or _DROPPED after warning about and acknowledging it."""
        # Lazy: see celery_app.make_app.
        from kombu.exceptions import KombuError

        try:
            return open_message(message.payload, self.key)
        except (BrokerMessageError, KombuError, ValueError, TypeError) as exc:
            self._drop(message, exc)
        return _DROPPED

    def _drop(self, message: Any, exc: BaseException) -> None:
        """Warn once about a message that is no event of ours and acknowledge it: it is gone."""
        log.warning(
            "celery_event_dropped",
            queue=self.queue_name,
            reason=str(exc) or type(exc).__name__,
            content_type=getattr(message, "content_type", None),
        )
        message.ack()

    def ack(self) -> None:
        """Acknowledge everything received so far (the scheduler has committed it)."""
        unacked, self._unacked = self._unacked, []
        try:
            for message in unacked:
                message.ack()
        except Exception:
            self.reset()  # they come again; the scheduler ignores duplicate reports

    def close(self) -> None:
        """Close without acknowledging what was not acknowledged: it is delivered again."""
        self.reset()

    def delete(self) -> None:
        """Delete the queue (a report that comes later declares it again, unread)."""
        with contextlib.suppress(*self._connection_errors()):
            self._open().consumer.queues[0].delete()
        self.reset()
