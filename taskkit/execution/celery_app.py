"""What the Celery executor and its workers share: the app, sealed messages, the event channel.

A try travels to a worker as a Celery task message (`taskkit.run_try`) whose
argument is the pickled Workload, sealed with the HMAC key that also signs
DAG payloads, so nobody with mere broker access can make a worker unpickle
their bytes. Results travel back the other way on the *event channel*: a
durable queue on `celery.result_backend` (the broker by default) named after
the metastore, so a restarted scheduler keeps receiving the reports of the
tries its predecessor sent. Celery's own result backend is not used: results
must reach the one writer, not wait in a store keyed by Celery task id.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import math
import pickle
from queue import Empty
from typing import TYPE_CHECKING, Any

import attrs
import structlog

from taskkit import serde
from taskkit.errors import BrokerMessageError
from taskkit.model.keys import TaskInstanceKey

if TYPE_CHECKING:
    from collections.abc import Callable

    from celery import Celery
    from kombu import Connection
    from kombu.simple import SimpleQueue

    from taskkit.config import CelerySettings

log = structlog.get_logger(__name__)

#: What `EventChannel._open_message` returns for a message it dropped.
_DROPPED = object()
#: The name of the one Celery task taskkit sends.
RUN_TRY = "taskkit.run_try"
#: Broker priorities go from 0 to this; RabbitMQ queues are declared with it as x-max-priority.
MAX_PRIORITY = 9
#: How long Redis keeps a delivered, unacknowledged message before redelivering it. Tries
#: that started are watched by heartbeats, and a redelivered message is dropped by the
#: worker unless its try is still queued, so this only bounds how long a message held by
#: a worker that died before starting it waits.
VISIBILITY_TIMEOUT_S = 300


@attrs.frozen
class WorkerBeat:
    """A worker's periodic "these tries are still mine and alive" on the event channel."""

    hostname: str
    pid: int
    tries: tuple[tuple[TaskInstanceKey, int], ...]


def is_redis(url: str) -> bool:
    """Whether a broker URL points at Redis (else RabbitMQ)."""
    return url.split("://", 1)[0].lower() in {"redis", "rediss"}


def events_queue_name(metastore_url: str) -> str:
    """The event channel of one metastore: the same name for every scheduler using it."""
    # Lazy: Celery workers import this module and never need SQLAlchemy; schedulers have it.
    from sqlalchemy.engine import make_url

    identity = make_url(metastore_url).render_as_string(hide_password=True)
    return "taskkit.events." + hashlib.sha256(identity.encode()).hexdigest()[:16]


def broker_priority(priority_weight_total: int, *, redis: bool) -> int:
    """Map an unbounded priority_weight_total onto the broker's 0..9 priority levels.

    Levels grow with log2 of the weight (1 -> 0, 2-3 -> 1, 4-7 -> 2, ... 512+ -> 9), so
    ordering is kept between weights of different magnitude. RabbitMQ serves higher
    numbers first; kombu's Redis transport serves lower numbers first, so it is inverted.
    """
    level = (
        min(MAX_PRIORITY, int(math.log2(priority_weight_total))) if priority_weight_total > 1 else 0
    )
    return MAX_PRIORITY - level if redis else level


def seal(obj: object, key: bytes) -> str:
    """Pickle `obj` and sign it: "<base64 pickle>.<hmac>"."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return base64.b64encode(payload).decode("ascii") + "." + serde.sign(payload, key)


def unseal(text: object, key: bytes) -> Any:
    """The object `seal` made; raises BrokerMessageError for anything else.

    The signature is checked before a single byte is unpickled, so a forged,
    garbled or foreign-key message is refused without running anything.
    """
    if not isinstance(text, str) or "." not in text:
        raise BrokerMessageError(f"not a sealed taskkit message (got {_brief(text)})")
    encoded, _, signature = text.rpartition(".")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BrokerMessageError("its body is not base64") from None
    if not hmac.compare_digest(serde.sign(payload, key), signature):
        raise BrokerMessageError(
            "its signature does not match this installation's secret key (sent by another "
            "installation, left in the broker from before a key change, or forged)"
        )
    return pickle.loads(payload)


def open_message(body: object, key: bytes) -> Any:
    """The object inside a message body `{"sealed": ...}`; BrokerMessageError if there is none."""
    if not isinstance(body, dict) or "sealed" not in body:
        raise BrokerMessageError(f"not a taskkit message (got {_brief(body)})")
    return unseal(body["sealed"], key)


def _brief(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def make_app(config: CelerySettings, run_try: Callable[..., None] | None = None) -> Celery:
    """A Celery app for `config`; with `run_try`, the worker side with the task registered."""
    # Lazy: celery and kombu (~80 ms) load when an app or a channel is opened, not on import.
    from celery import Celery

    redis = is_redis(config.broker_url)
    transport_options: dict[str, Any] = {}
    if redis:
        # Ten real levels instead of kombu's default four; polled in priority order.
        transport_options = {
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            "priority_steps": list(range(MAX_PRIORITY + 1)),
            "queue_order_strategy": "priority",
        }
    else:
        transport_options = {"confirm_publish": True}
    app = Celery("taskkit", broker=config.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=config.default_queue,
        task_create_missing_queues=True,
        task_queue_max_priority=MAX_PRIORITY,
        task_default_priority=0,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": None,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 2.0,
        },
    )
    if run_try is not None:
        app.task(name=RUN_TRY, ignore_result=True)(run_try)
    return app


class EventChannel:
    """One end of the event channel: publish events (workers) or receive them (scheduler).

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
            # Lazy: see make_app.
            from kombu import Connection
            from kombu.exceptions import OperationalError

            probe = Connection(self.url)  # not connected: only asks its transport
            transport = [e for e in probe.connection_errors if e is not KeyError]  # Redis lists it
            self._lost = (OSError, OperationalError, *transport)
            probe.release()
        return self._lost

    def _open(self) -> SimpleQueue:
        if self._queue is None:
            # Lazy: see make_app.
            from kombu import Connection

            self._connection = Connection(self.url, transport_options=_channel_options(self.url))
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

    def receive(self, timeout: float, limit: int = 2000) -> list[object]:
        """Events waiting now (blocking up to `timeout` for the first); acknowledge with `ack`.

        A message that is not a sealed taskkit event (forged, garbled, signed
        with another key) is logged as one warning and acknowledged at once:
        it is dropped, so it can neither stop the caller nor come back.
        Raises ConnectionError if the broker went away (the caller resets and retries).
        """
        found: list[object] = []
        try:
            queue = self._open()
            message = queue.get(block=True, timeout=timeout) if timeout > 0 else queue.get_nowait()
            while True:
                event = self._open_message(message)
                if event is not _DROPPED:
                    self._unacked.append(message)
                    found.append(event)
                    if len(found) >= limit:
                        break
                message = queue.get_nowait()
        except Empty:
            pass
        except self._connection_errors() as exc:
            self.reset()
            raise ConnectionError(str(exc)) from exc
        return found

    def _open_message(self, message: Any) -> object:
        """The event in `message`, or _DROPPED after warning about and acknowledging it."""
        # Lazy: see make_app.
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


def _channel_options(url: str) -> dict[str, Any]:
    if is_redis(url):
        return {"visibility_timeout": VISIBILITY_TIMEOUT_S}
    return {"confirm_publish": True}
