"""A scheduler on this host is woken when a run is triggered, instead of at its next refresh."""

from __future__ import annotations

import threading

import pytest
from harness import Home, wait_for

from taskkit.scheduling import scheduler as scheduler_module
from taskkit.scheduling.scheduler import Scheduler
from taskkit.scheduling.wakeup import WakeUps, wake_scheduler
from taskkit.services import runs
from taskkit.states import RunState

ONE_TASK = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def one_task():
    @task
    def a():
        return 1

    a()

one_task()
"""


def test_a_wake_up_reaches_the_listener_of_that_metastore_only(
    tmp_path: pytest.TempPathFactory,
) -> None:
    """Each metastore has its own address; a second listener of one is refused, not shared."""
    ours, theirs = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    listener = WakeUps.listen(ours)
    assert listener is not None
    try:
        assert WakeUps.listen(ours) is None  # another scheduler of it here: refreshes hold
        assert not listener.drain()
        wake_scheduler(theirs)
        assert not listener.drain()
        wake_scheduler(ours)
        wake_scheduler(ours)
        assert listener.drain()
        assert not listener.drain()  # both read at once
    finally:
        listener.close()
    wake_scheduler(ours)  # nobody listening: nothing happens


def test_a_triggered_run_starts_without_waiting_for_the_refresh(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With refreshes an hour apart, a run triggered as `dags trigger` and the API do is
    still picked up: the trigger wakes the scheduler."""
    monkeypatch.setattr(scheduler_module, "REFRESH_INTERVAL_S", 3600.0)
    home.write_dag("one_task", ONE_TASK)
    home.sync()
    scheduler = Scheduler(home.settings(), exit_when_idle=False)
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    try:
        first = runs.trigger(home.store, home.settings(), "one_task", run_id="first")
        wait_for(lambda: home.run_state("one_task", first.run_id) is RunState.SUCCESS)
        # Long after its first refresh: only the wake-up can make it look again.
        second = runs.trigger(home.store, home.settings(), "one_task", run_id="second")
        wait_for(lambda: home.run_state("one_task", second.run_id) is RunState.SUCCESS)
    finally:
        scheduler._request_stop("SIGTERM")
        wake_scheduler(home.db_url)  # out of its hour-long wait, to see the stop
        thread.join(60)
    assert not thread.is_alive()
