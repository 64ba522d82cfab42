"""What the Celery executor and its workers share: the app, sealed messages, the event channel.

Tries travel to a worker as a Celery task message (`taskkit.run_try`) whose
argument is the pickled Workload, or a tuple of them (the tries the scheduler queued
together, up to `celery.tries_per_message`), sealed with the HMAC key that also signs
DAG payloads, so nobody with mere broker access can make a worker unpickle
their bytes. Results travel back the other way on the *event channel* (celery_channel.py):
a durable queue on `celery.result_backend` (the broker by default) named after
the metastore, so a restarted scheduler keeps receiving the reports of the
tries its predecessor sent. Celery's own result backend is not used: results
must reach the one writer, not wait in a store keyed by Celery task id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import pickle
from typing import TYPE_CHECKING, Any

import attrs
import structlog

from taskkit import serde
from taskkit.errors import BrokerMessageError
from taskkit.model.keys import TaskInstanceKey

if TYPE_CHECKING:
    from collections.abc import Callable

    from celery import Celery

    from taskkit.config import CelerySettings

log = structlog.get_logger(__name__)

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
    """The event channel of a metastore's only scheduler (SQLite), the same after a restart."""
    # Lazy: Celery workers import this module and never need SQLAlchemy; schedulers have it.
    from sqlalchemy.engine import make_url

    identity = make_url(metastore_url).render_as_string(hide_password=True)
    return "taskkit.events." + hashlib.sha256(identity.encode()).hexdigest()[:16]


def scheduler_channel_name(metastore_url: str, scheduler_id: int) -> str:
    """The event channel of one of several schedulers on a metastore (PostgreSQL).

    Each reads only its own, so none consumes another's reports; a dead
    scheduler's channel is read by the one that adopts its tries.
    """
    return f"{events_queue_name(metastore_url)}.s{scheduler_id}"


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
