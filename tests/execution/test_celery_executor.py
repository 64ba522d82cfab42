"""The Celery executor's pieces that need no broker: priorities, sealed messages, settings,
heartbeat deadlines."""

from __future__ import annotations

import pytest

pytest.importorskip("celery", reason="install taskkit[celery] to test the Celery executor")

from taskkit.config import load_settings
from taskkit.errors import BrokerMessageError, ConfigError
from taskkit.execution.celery_app import (
    broker_priority,
    events_queue_name,
    scheduler_channel_name,
    seal,
    unseal,
)
from taskkit.model.keys import TaskInstanceKey


def test_priority_levels_follow_weight_magnitude_on_rabbitmq() -> None:
    """Heavier tasks get higher RabbitMQ priorities, from 0 up to a cap of 9."""
    levels = [broker_priority(w, redis=False) for w in (1, 3, 7, 8, 100, 10**12)]
    assert levels == sorted(levels)
    assert levels[0] == 0
    assert levels[-1] == 9
    assert broker_priority(-5, redis=False) == 0


def test_priority_levels_are_inverted_on_redis() -> None:
    """On Redis, where kombu serves lower numbers first, heavier tasks get lower numbers."""
    assert broker_priority(1, redis=True) == 9
    assert broker_priority(10**12, redis=True) == 0
    assert broker_priority(8, redis=True) < broker_priority(2, redis=True)


def test_sealed_messages_open_only_with_the_same_key() -> None:
    """A message sealed with one secret key opens with it and is refused under another."""
    key = TaskInstanceKey("etl", "manual__1", "load")
    sealed = seal({"key": key, "try": 2}, b"k" * 32)

    assert unseal(sealed, b"k" * 32) == {"key": key, "try": 2}
    with pytest.raises(BrokerMessageError):
        unseal(sealed, b"x" * 32)


def test_event_channel_is_named_after_the_metastore_and_the_scheduler() -> None:
    """One metastore, one base name (whatever the password); each of several schedulers on
    it reads its own channel under that name; another metastore, another name."""
    pg = "postgresql+psycopg://u:secret@db/taskkit"
    assert events_queue_name(pg) == events_queue_name("postgresql+psycopg://u:other@db/taskkit")
    assert events_queue_name(pg) != events_queue_name("postgresql+psycopg://u@db/other")
    first, second = scheduler_channel_name(pg, 1), scheduler_channel_name(pg, 2)
    assert first != second
    assert first.startswith(events_queue_name(pg) + ".")


def test_celery_settings_come_from_the_environment(tmp_path: object) -> None:
    """celery.* settings and core.executor = celery are read from TASKKIT__ variables."""
    env = {
        "TASKKIT_HOME": str(tmp_path),
        "TASKKIT__CORE__EXECUTOR": "celery",
        "TASKKIT__CELERY__BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "TASKKIT__CELERY__WORKER_CONCURRENCY": "4",
    }
    settings = load_settings(environ=env)

    assert settings.core.executor == "celery"
    assert settings.celery.worker_concurrency == 4
    assert settings.celery.default_queue == "default"
    assert settings.celery.events_url == "amqp://guest:guest@127.0.0.1:5672//"


def test_a_non_broker_url_is_refused(tmp_path: object) -> None:
    """A celery.broker_url that is neither Redis nor RabbitMQ is a clear configuration error."""
    env = {"TASKKIT_HOME": str(tmp_path), "TASKKIT__CELERY__BROKER_URL": "sqs://queue"}
    with pytest.raises(ConfigError, match=r"celery\.broker_url"):
        load_settings(environ=env)


def test_a_broker_outage_does_not_fail_running_tries_as_lost(tmp_path: object) -> None:
    """Workers cannot beat while the broker is down: once the channel is back, a running try
    gets a fresh heartbeat deadline instead of being failed as lost; a try whose worker stays
    silent past that deadline still is."""
    import time

    from taskkit.execution.base import TryFinished
    from taskkit.execution.celery_executor import CeleryExecutor, _Flight

    settings = load_settings(
        environ={
            "TASKKIT_HOME": str(tmp_path),
            "TASKKIT__CELERY__BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        }
    )
    executor = CeleryExecutor(
        settings.celery,
        capacity=4,
        secret_key=b"k" * 32,
        metastore_url="sqlite:///x.db",
        route=lambda workload: ("default", 1),
        heartbeat_timeout_s=10.0,
    )
    key = TaskInstanceKey("etl", "manual__1", "load")
    silent_since = time.monotonic() - 60  # the outage lasted a minute
    executor._in_flight[key, 1] = _Flight(None, started=True, seen=silent_since, host="w1")
    executor._reconnecting = True

    executor._after_reconnect()  # the channel answers again

    assert executor._lost_tries() == []
    executor._in_flight[key, 1].seen = time.monotonic() - 11  # then silent past the timeout
    [lost] = executor._lost_tries()
    assert isinstance(lost, TryFinished)
    assert "sent no heartbeat for 10s" in str(lost.result.error)


def test_tries_queued_together_share_messages_per_queue_and_priority(tmp_path: object) -> None:
    """Submitted tries leave on the next poll, grouped by queue and priority, at most
    celery.tries_per_message per message; a try cancelled before then is never sent, and
    one sharing a message is not revoked (its worker drops it: it is no longer due)."""
    import datetime as dt

    from taskkit.execution.celery_executor import CeleryExecutor
    from taskkit.execution.workload import Workload

    settings = load_settings(
        environ={"TASKKIT_HOME": str(tmp_path), "TASKKIT__CELERY__TRIES_PER_MESSAGE": "2"}
    )
    assert settings.celery.tries_per_message == 2
    executor = CeleryExecutor(
        settings.celery,
        capacity=8,
        secret_key=b"k" * 32,
        metastore_url="sqlite:///x.db",
        route=lambda w: ("gpu" if w.key.task_id.startswith("g") else "default", 1),
        heartbeat_timeout_s=10.0,
    )
    sent: list[tuple[list[str], str, int]] = []

    def send(workloads: list[Workload], queue: str, priority: int) -> str:
        sent.append(([w.key.task_id for w in workloads], queue, priority))
        return f"message-{len(sent)}"

    executor._send = send  # type: ignore[method-assign]
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for task_id in ("a", "b", "g1", "c", "gone", "g2"):
        key = TaskInstanceKey("etl", "manual__1", task_id)
        executor.submit(Workload(key, 1, 1, 7, when, {}, "manual", ""), None)
    executor.cancel(TaskInstanceKey("etl", "manual__1", "gone"), 1)

    executor._send_outbox()

    assert sent == [(["a", "b"], "default", 9), (["c"], "default", 9), (["g1", "g2"], "gpu", 9)]
    assert executor.running() == 5
    executor.cancel(TaskInstanceKey("etl", "manual__1", "a"), 1)  # shares message-1: no revoke
    assert executor.running() == 4
