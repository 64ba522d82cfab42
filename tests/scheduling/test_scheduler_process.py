"""The scheduler as a process: killed mid-run, stopped by signals, raced by new runs."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from harness import Home, parent_of, start_scheduler, stop, wait_for
from processes import alive

from taskkit.states import RunState, State

pytestmark = pytest.mark.slow

SLOW_CHAIN = """
@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def slow_chain():
    @task
    def a(ti=None):
        note(ti, time.time())
        return 1

    @task
    def b(x, ti=None):
        start = time.time()
        time.sleep({seconds} if ti.try_number == 1 else 0)  # only the first try is slow
        note(ti, start)
        return x + 1

    @task
    def c(y, ti=None):
        note(ti, time.time())
        return y + 1

    c(b(a()))

slow_chain()
"""


def _running(home: Home, run_id: str, task_id: str) -> int | None:
    ti = home.tis("slow_chain", run_id)[task_id]
    return ti.pid if ti.state is State.RUNNING and ti.pid else None


def test_killed_scheduler_is_recovered_without_rerunning_successes(home: Home) -> None:
    """A SIGKILLed scheduler's worker and try die with it; the next one reruns only that try."""
    home.write_dag("slow_chain", SLOW_CHAIN.format(seconds=3))
    home.sync()
    run = home.trigger("slow_chain")
    scheduler = start_scheduler(home, exit_when_idle=True)
    try:
        task_pid = wait_for(lambda: _running(home, run.run_id, "b"))
        zygote = parent_of(task_pid)
        assert parent_of(zygote) == scheduler.pid

        os.kill(scheduler.pid, signal.SIGKILL)
        scheduler.wait(10)
        wait_for(lambda: not alive(zygote) and not alive(task_pid), timeout=5)
    finally:
        stop(scheduler)
    assert home.tis("slow_chain", run.run_id)["b"].state is State.RUNNING  # left orphaned

    home.run_scheduler()

    tis = home.tis("slow_chain", run.run_id)
    assert {t: (ti.state, ti.try_number) for t, ti in tis.items()} == {
        "a": (State.SUCCESS, 1),
        "b": (State.SUCCESS, 2),
        "c": (State.SUCCESS, 1),
    }
    assert [(t.task, t.try_number) for t in home.tries()] == [("a", 1), ("b", 2), ("c", 1)]
    assert home.run_state("slow_chain", run.run_id) is RunState.SUCCESS
    assert home.xcom("slow_chain", run.run_id, "c").value == b"3"  # a's value survived the crash


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_lets_running_try_finish_and_exits_cleanly(
    home: Home, signum: signal.Signals
) -> None:
    """SIGTERM or Ctrl-C while a try runs: the try finishes and is recorded, and the exit is 0."""
    home.write_dag("slow_chain", SLOW_CHAIN.format(seconds=1))
    home.sync()
    run = home.trigger("slow_chain")
    scheduler = start_scheduler(home, exit_when_idle=False)
    try:
        wait_for(lambda: _running(home, run.run_id, "b"))
        os.killpg(scheduler.pid, signum)  # the whole foreground group, as a terminal's Ctrl-C
        out, _ = scheduler.communicate(timeout=20)
    finally:
        output = stop(scheduler)
    assert scheduler.returncode == 0, out + output
    assert f"({signum.name})" in out
    tis = home.tis("slow_chain", run.run_id)
    assert tis["b"].state is State.SUCCESS
    assert tis["c"].state is State.NONE  # no new work after the signal
    assert [t.task for t in home.tries()] == ["a", "b"]


def test_runs_created_while_the_scheduler_runs_all_complete(home: Home) -> None:
    """Runs triggered from two threads while a scheduler is running all finish successfully."""
    home.write_dag(
        "quick",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def quick():
            @task
            def one(ti=None):
                note(ti, time.time())
                return ti.run_id

            @task
            def two(value, ti=None):
                note(ti, time.time())
                return value

            two(one())

        quick()
        """,
    )
    home.sync()
    scheduler = start_scheduler(home, exit_when_idle=False)
    errors: list[BaseException] = []

    def trigger_many(prefix: str) -> None:
        try:
            for i in range(5):
                home.trigger("quick", f"{prefix}_{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=trigger_many, args=(p,)) for p in ("left", "right")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        runs = home.store.list_runs("quick")
        assert len(runs) == 10
        wait_for(
            lambda: all(home.run_state("quick", r.run_id) is RunState.SUCCESS for r in runs),
            timeout=30,
        )
        os.kill(scheduler.pid, signal.SIGTERM)
        scheduler.communicate(timeout=20)
    finally:
        output = stop(scheduler)
    assert scheduler.returncode == 0, output
    assert len(home.tries("quick")) == 20
    for r in runs:
        assert home.xcom("quick", r.run_id, "two").value == (f'"{r.run_id}"'.encode())


def test_a_second_signal_leaves_running_tries_to_rerun_without_spending_a_try(home: Home) -> None:
    """Ctrl-C twice stops at once, and the cut-short try reruns on the next start as after a
    SIGKILL: a task without retries still succeeds instead of failing its run."""
    home.write_dag("slow_chain", SLOW_CHAIN.format(seconds=600))
    home.sync()
    run = home.trigger("slow_chain")
    scheduler = start_scheduler(home, exit_when_idle=False)
    try:
        wait_for(lambda: _running(home, run.run_id, "b"))
        os.killpg(scheduler.pid, signal.SIGINT)
        wait_for(lambda: "scheduler_stopping" in _peek(scheduler))
        os.killpg(scheduler.pid, signal.SIGINT)
        out, _ = scheduler.communicate(timeout=30)
    finally:
        output = stop(scheduler)
    assert "(SIGINT, forced)" in _PEEKED[scheduler.pid] + out, out + output
    left = home.tis("slow_chain", run.run_id)["b"].state
    if home.db_url.startswith("postgresql"):  # it released its runs as it left: reset already
        assert left is State.SCHEDULED
    else:  # left as after a SIGKILL, for the next start to reset
        assert left in (State.RUNNING, State.QUEUED)
    home.run_scheduler()
    tis = home.tis("slow_chain", run.run_id)
    assert home.run_state("slow_chain", run.run_id) is RunState.SUCCESS
    assert tis["b"].try_number == 2 and tis["b"].max_tries == tis["a"].max_tries + 1


_PEEKED: dict[int, str] = {}


def _peek(process: object) -> str:
    """What the process printed so far (read without blocking)."""
    import fcntl
    import subprocess

    assert isinstance(process, subprocess.Popen)
    stream = process.stdout
    fd = stream.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        chunk = b""
    _PEEKED[process.pid] = _PEEKED.get(process.pid, "") + chunk.decode(errors="replace")
    return _PEEKED[process.pid]
