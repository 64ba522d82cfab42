"""Several Celery schedulers on one PostgreSQL metastore sharing one worker (issue 14).

Each scheduler reads its own event channel; a run's tries report to the
channel of the scheduler that queued them, so two schedulers never consume
each other's reports. When one is killed, the other inherits its runs and
adopts its tries still running on the worker, reading the dead one's channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import PG_URL
from harness import Home, max_overlap, wait_for
from test_celery_scheduler import BROKER_PARAMS, _make_home, start_worker, stop_worker
from test_ha_processes import Sampler, Schedulers, _all_finished, _no_try_twice

from taskkit.execution.celery_app import scheduler_channel_name
from taskkit.states import RunState, SchedulerState, State

pytestmark = [
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="several Celery schedulers need TASKKIT_TEST_PG_URL"),
]

CELERY = {"core.executor": "celery"}


@pytest.fixture(params=BROKER_PARAMS)
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Home, Schedulers]]:
    """A Celery home on PostgreSQL, one worker (concurrency 4) and room for schedulers."""
    for home in _make_home(tmp_path, str(request.param)):
        worker = start_worker(home)
        group = Schedulers(home)
        try:
            yield home, group
        finally:
            group.kill_all()
            stop_worker(worker)


def test_two_schedulers_share_one_worker_and_run_each_try_once(
    fleet: tuple[Home, Schedulers],
) -> None:
    """Two Celery schedulers run seed and multi-slot runs on one worker: every task succeeds
    with one try, no pool is ever over its slots, priorities hold, both own runs."""
    home, schedulers = fleet
    schedulers.start(2, **CELERY)
    with Sampler(home.db_url, {"test_pool": 1, "wh": 4}) as sampler:
        seeds = [home.trigger("seed") for _ in range(6)]
        slots = [home.trigger("slots") for _ in range(2)]
        wait_for(lambda: _all_finished(home.store), timeout=120, interval=0.2)
    results = schedulers.stop_all()

    assert all(code == 0 for code, _ in results.values()), results
    assert sampler.samples > 10 and sampler.violations == []
    for run in seeds + slots:
        assert home.run_state(run.dag_id, run.run_id) is RunState.SUCCESS
        tis = home.store.list_task_instances(run.dag_id, run.run_id)
        assert {(ti.state, ti.try_number) for ti in tis} == {(State.SUCCESS, 1)}
    for run in seeds:
        assert home.started_order("seed", run.run_id) == ["process_c", "process_a", "process_b"]
    assert max_overlap(home.tries("seed")) == 1
    assert max_overlap(home.tries("slots"), weight=lambda t: t.slots) <= 4
    assert len(home.tries()) == 6 * 3 + 2 * 6
    _no_try_twice(home)
    owners = {r.scheduler_id for r in home.store.list_runs()}
    assert len(owners) == 2 and None not in owners


def test_a_killed_celery_schedulers_running_tries_are_adopted_by_the_other(
    fleet: tuple[Home, Schedulers],
) -> None:
    """SIGKILL one of two Celery schedulers while its tries run on the worker: the other
    inherits its runs, adopts those tries (they finish once, as try 1) and finishes all."""
    home, schedulers = fleet
    schedulers.start(2, **CELERY)
    runs = [home.trigger("long") for _ in range(4)]

    victim, victim_id = schedulers.kill_a_busy_one()

    wait_for(lambda: _all_finished(home.store), timeout=90, interval=0.2)
    results = schedulers.stop_all()

    survivor = next(p for p in schedulers.processes if p is not victim)
    assert results[survivor.pid][0] == 0, results[survivor.pid][1]
    states = {s.id: s.state for s in home.store.list_schedulers(include_ended=True)}
    assert states[victim_id] is SchedulerState.DEAD
    for run in runs:
        assert home.run_state("long", run.run_id) is RunState.SUCCESS
        ti = home.tis("long", run.run_id)["sleeps"]
        assert ti.try_number == 1  # adopted, not reset and rerun
    assert len(home.tries("long")) == len(runs)  # each ran once
    assert "celery_tries_adopted" in results[survivor.pid][1]
    dead = scheduler_channel_name(home.db_url, victim_id)
    assert not _channel_exists(home.settings().celery.broker_url, dead)  # deleted once drained


def _channel_exists(broker: str, name: str) -> bool:
    """Whether the broker still holds the event channel `name` (a Redis list, a queue)."""
    if broker.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker)
        try:
            return bool(client.exists(name, name + ".unacked"))
        finally:
            client.close()
    from kombu import Connection

    with Connection(broker) as connection:
        try:
            connection.default_channel.queue_declare(name, passive=True)
        except connection.channel_errors:
            return False
        return True
