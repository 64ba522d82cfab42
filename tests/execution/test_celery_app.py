"""The event channel on a real Redis and RabbitMQ: bad messages are dropped, good ones pass,
what a reader did not acknowledge reaches the next one."""

from __future__ import annotations

import base64
import datetime as dt
import pickle
import socket
import uuid
from collections.abc import Iterator

import pytest

pytest.importorskip("celery", reason="install taskkit[celery] to test the Celery executor")

from kombu import Connection
from structlog.testing import capture_logs

from taskkit.execution.base import TryStarted
from taskkit.execution.celery_app import seal
from taskkit.execution.celery_channel import BATCH, EventChannel, event_channel
from taskkit.model.keys import TaskInstanceKey

KEY = b"k" * 32


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


BROKERS = [
    pytest.param(
        "redis://127.0.0.1:6379/0",
        id="redis",
        marks=pytest.mark.skipif(not _answers(6379), reason="Redis is not on 127.0.0.1:6379"),
    ),
    pytest.param(
        "amqp://guest:guest@127.0.0.1:5672//",
        id="rabbitmq",
        marks=pytest.mark.skipif(not _answers(5672), reason="RabbitMQ is not on 127.0.0.1:5672"),
    ),
]

pytestmark = pytest.mark.celery


@pytest.fixture(params=BROKERS)
def channel(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(broker URL, a fresh event-channel queue name), deleted afterwards."""
    url, name = str(request.param), f"taskkit.test-events.{uuid.uuid4().hex[:12]}"
    yield url, name
    with Connection(url) as conn:
        conn.SimpleQueue(name).queue.delete()
    if url.startswith("redis"):
        import redis

        redis.Redis.from_url(url).delete(name + ".unacked")


def _put_raw(url: str, queue: str, body: object, **kwargs: object) -> None:
    """Publish `body` on the channel's queue as any broker client could, bypassing seal()."""
    with Connection(url) as conn:
        simple = conn.SimpleQueue(queue)
        simple.put(body, **kwargs)
        simple.close()


def _started(task: str) -> TryStarted:
    key = TaskInstanceKey("etl", "manual__1", task)
    return TryStarted(key, 1, 42, "worker-host", dt.datetime.now(dt.timezone.utc))


class _Evil:
    def __reduce__(self) -> tuple[object, ...]:
        return (print, ("unpickled by the scheduler!",))


def test_bad_messages_are_dropped_with_one_warning_each(channel: tuple[str, str]) -> None:
    """Forged, garbled or foreign-key messages on the event channel are logged once and dropped,
    and the good events around them still arrive; nothing bad comes back after a reconnect."""
    url, name = channel
    good = event_channel(url, name, KEY)
    good.publish(_started("before"))
    _put_raw(url, name, {"x": 1}, serializer="json")
    _put_raw(url, name, {"sealed": "not base64!!.deadbeef"}, serializer="json")
    _put_raw(url, name, {"sealed": seal(_started("forged"), b"o" * 32)}, serializer="json")
    _put_raw(url, name, {"sealed": 7}, serializer="json")
    _put_raw(url, name, ["a", "list"], serializer="json")
    _put_raw(
        url, name, b"\xff\xfe garbled", content_type="application/json", content_encoding="binary"
    )
    evil = base64.b64encode(pickle.dumps(_Evil())).decode()
    _put_raw(url, name, {"sealed": evil + ".00"}, serializer="json")
    _put_raw(url, name, _Evil(), serializer="pickle")  # never unpickled: JSON only
    good.publish(_started("after"))

    receiver = event_channel(url, name, KEY)
    with capture_logs() as logs:
        events: list[object] = []
        for _ in range(20):
            events += receiver.receive(1.0)
            if len(events) >= 2:
                break
    receiver.ack()
    receiver.close()

    assert [e.key.task_id for e in events if isinstance(e, TryStarted)] == ["before", "after"]
    dropped = [entry for entry in logs if entry["event"] == "celery_event_dropped"]
    assert len(dropped) == 8
    assert all(entry["log_level"] == "warning" and entry["reason"] for entry in dropped)
    assert all(entry["queue"] == name for entry in dropped)

    again = event_channel(url, name, KEY)  # acknowledged: not delivered to the next reader
    assert again.receive(0.5) == []
    again.close()
    good.close()


def test_unacknowledged_events_reach_the_next_reader_in_order(channel: tuple[str, str]) -> None:
    """A scheduler that dies between receiving and acknowledging loses nothing: the next
    reader gets those events again, in order, and then the newer ones; a big backlog
    arrives in batches."""
    url, name = channel
    sender = event_channel(url, name, KEY)
    for n in range(5):
        sender.publish(_started(f"t{n}"))

    crashed = event_channel(url, name, KEY)
    first = _receive_at_least(crashed, 5)
    crashed.close()  # no ack: as if the scheduler died before committing
    for n in range(5, 2505):
        sender.publish(_started(f"t{n}"))

    successor = event_channel(url, name, KEY)
    again = _receive_at_least(successor, 2505)
    successor.ack()
    successor.close()

    def names(events: list[object]) -> list[str]:
        return [e.key.task_id for e in events if isinstance(e, TryStarted)]

    assert names(first) == [f"t{n}" for n in range(5)]
    assert names(again) == [f"t{n}" for n in range(2505)]
    last = event_channel(url, name, KEY)
    assert last.receive(0.3) == []  # all acknowledged
    last.close()
    sender.close()


def _receive_at_least(reader: EventChannel, count: int) -> list[object]:
    events: list[object] = []
    for _ in range(50):
        batch = reader.receive(1.0)
        assert len(batch) <= BATCH
        events += batch
        if len(events) >= count:
            break
    return events


def test_a_deleted_channel_loses_its_events_and_unacknowledged_batch(
    channel: tuple[str, str],
) -> None:
    """Deleting a drained dead scheduler's channel removes what it held, acknowledged or not:
    a reader opened afterwards finds nothing."""
    url, name = channel
    writer, reader = event_channel(url, name, KEY), event_channel(url, name, KEY)
    writer.publish(_started("a"))
    assert [e.key.task_id for e in reader.receive(5.0)] == ["a"]
    writer.publish(_started("b"))
    reader.delete()
    writer.close()
    fresh = event_channel(url, name, KEY)
    try:
        assert fresh.receive(0.3) == []
    finally:
        fresh.close()
