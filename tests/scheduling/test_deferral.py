"""Deferral under the real scheduler and triggerer: slots, pools, failures, a killed triggerer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import Home, start_scheduler, stop, wait_for
from processes import alive

from taskkit.metastore import RunRecord
from taskkit.services.task_instances import explain
from taskkit.states import RunState, State

#: A module of triggers in the DAGs folder: the triggerer imports triggers by class path.
TRIGGERS = '''
import asyncio
import os

from taskkit import BaseTrigger, TriggerEvent


class FlagTrigger(BaseTrigger):
    """Fires once `path` exists; records each start in `path + '.starts'`."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def serialize(self):
        return "flag_triggers.FlagTrigger", {"path": self.path}

    async def run(self):
        with open(self.path + ".starts", "a") as starts:
            starts.write(f"{os.getpid()}\\n")
        while not os.path.exists(self.path):
            await asyncio.sleep(0.05)
        yield TriggerEvent({"found": self.path})


class BrokenTrigger(BaseTrigger):
    def serialize(self):
        return "flag_triggers.BrokenTrigger", {}

    async def run(self):
        await asyncio.sleep(0.01)
        raise ConnectionError("the bucket is unreachable")
        yield TriggerEvent(None)
'''

WAITER = """
from flag_triggers import BrokenTrigger, FlagTrigger
from taskkit import BaseOperator

FLAG = os.path.join(os.path.dirname(RECORD), "flag")


class WaitForFlag(BaseOperator):
    def execute(self, context):
        note(context["ti"], time.time(), phase="deferring")
        self.defer(trigger=FlagTrigger(FLAG), method_name="resume", kwargs={{"seen": 1}})

    def resume(self, context, event=None, seen=0):
        note(context["ti"], time.time(), phase="resumed", found=event["found"], seen=seen)
        return event["found"]


class Broken(BaseOperator):
    def execute(self, context):
        self.defer(trigger=BrokenTrigger(), method_name="resume")

    def resume(self, context, event=None):
        return "never"


def write_flag(ti):
    start = time.time()
    open(FLAG, "w").close()
    note(ti, start)


with DAG("waiter", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    WaitForFlag(task_id="wait", pool="{pool}", priority_weight=10, retries=2, retry_delay=0)
    PythonOperator(task_id="writer", python_callable=write_flag, pool="{pool}", priority_weight=1)

with DAG("broken", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    Broken(task_id="defers", retries=0)
"""


def _write(home: Home, pool: str = "default_pool") -> None:
    (home.path / "dags" / "flag_triggers.py").write_text(TRIGGERS, encoding="utf-8")
    home.write_dag("waiter", WAITER.format(pool=pool))
    home.sync()


def _phases(home: Home) -> list[tuple[str, str]]:
    """(task, phase) of each recorded line of the waiter DAG, in the order they were written."""
    lines = [json.loads(line) for line in home.record.read_text().splitlines()]
    return [(line["task"], line.get("phase", "")) for line in lines if line["dag"] == "waiter"]


def test_a_deferred_task_holds_no_parallelism_slot(home: Home) -> None:
    """With parallelism 1 the writer runs while the waiter is deferred; the waiter's same try
    then resumes with the trigger's event and the kwargs it deferred with."""
    _write(home)
    run = home.trigger("waiter")

    summary = home.run_scheduler(core_parallelism=1)

    tis = home.tis("waiter", run.run_id)
    assert (tis["wait"].state, tis["writer"].state) == (State.SUCCESS, State.SUCCESS)
    assert tis["wait"].try_number == 1  # deferring and resuming is one try
    assert (tis["wait"].next_method, tis["wait"].next_kwargs) == (None, None)
    assert _phases(home) == [("wait", "deferring"), ("writer", ""), ("wait", "resumed")]
    xcom = home.xcom("waiter", run.run_id, "wait")
    assert xcom is not None and b"flag" in xcom.value
    assert summary.tries == 2  # the deferral is not a try of its own
    assert home.store.list_fired_triggers() == []  # collected and deleted
    log = home.log_text("waiter", run.run_id, "wait", 1)
    assert "Deferred to flag_triggers.FlagTrigger" in log
    assert "outcome=deferred" in log and "outcome=success" in log


@pytest.mark.parametrize("include_deferred", [False, True])
def test_a_deferred_task_holds_its_pool_slot_only_when_the_pool_includes_deferred(
    home: Home, include_deferred: bool
) -> None:
    """In a 1-slot pool the writer can only run while the waiter is deferred if deferred tasks
    hold no pool slot; with include_deferred they do, and the waiter times out its wait
    (nothing can write the flag), failing the task with TaskDeferralTimeout."""
    _write(home, pool="gate")
    home.store.set_pool("gate", 1, include_deferred=include_deferred)
    (home.path / "dags" / "waiter.py").write_text(
        (home.path / "dags" / "waiter.py")
        .read_text()
        .replace('kwargs={"seen": 1})', 'kwargs={"seen": 1}, timeout=1.5)'),
        encoding="utf-8",
    )
    home.sync()
    run = home.trigger("waiter")

    home.run_scheduler()

    tis = home.tis("waiter", run.run_id)
    if not include_deferred:
        assert (tis["wait"].state, tis["writer"].state) == (State.SUCCESS, State.SUCCESS)
        return
    assert tis["wait"].state is State.FAILED
    assert tis["wait"].error == "TaskDeferralTimeout: Trigger/execution timeout"
    assert tis["wait"].try_number == 3  # a deferral timeout uses retries, as in Airflow
    assert tis["writer"].state is State.SUCCESS  # ran once the waiter's slot was free
    writer = next(t for t in home.tries("waiter") if t.task == "writer")
    deferred_tries = [t for t in home.tries("waiter") if t.task == "wait"]
    assert writer.start >= max(t.end for t in deferred_tries)


def test_a_trigger_that_raises_fails_the_task_with_the_triggers_error(home: Home) -> None:
    _write(home)
    run = home.trigger("broken")

    home.run_scheduler()

    ti = home.tis("broken", run.run_id)["defers"]
    assert ti.state is State.FAILED
    assert ti.error == "TaskDeferralError: ConnectionError: the bucket is unreachable"
    assert ti.try_number == 1
    assert home.run_state("broken", run.run_id) is RunState.FAILED
    log = home.log_text("broken", run.run_id, "defers", 1)
    assert "Trigger failed" in log and "raise ConnectionError" in log  # the traceback


def _triggerer_pids(scheduler_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"triggerer" in command and int(stat[1]) == scheduler_pid and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_triggerer_killed_mid_wait_loses_nothing(home: Home) -> None:
    """SIGKILL the triggerer while the task is deferred: the scheduler starts another, which
    picks the stored trigger up again, and the task completes once the flag appears; the
    scheduler with --exit-when-idle waits for the deferred task all along."""
    _write(home)
    flag = home.path / "flag"
    (home.path / "dags" / "waiter.py").write_text(
        (home.path / "dags" / "waiter.py")
        .read_text()
        .replace('open(FLAG, "w").close()', "pass"),  # the writer no longer writes it
        encoding="utf-8",
    )
    home.sync()
    run = home.trigger("waiter")
    scheduler = start_scheduler(home, exit_when_idle=True)
    try:
        starts = Path(f"{flag}.starts")
        wait_for(lambda: starts.exists() and starts.read_text().strip(), timeout=30)
        first = wait_for(lambda: _triggerer_pids(scheduler.pid), timeout=10)
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(starts.read_text().split()) >= 2, timeout=30)  # started again
        assert home.tis("waiter", run.run_id)["wait"].state is State.DEFERRED
        time.sleep(0.5)
        assert scheduler.poll() is None  # --exit-when-idle: a deferred task is not idle
        flag.touch()
        scheduler.wait(timeout=30)
    finally:
        out = stop(scheduler)
    assert scheduler.returncode == 0, out
    second = int(starts.read_text().split()[1])
    assert second != first[0]
    ti = home.tis("waiter", run.run_id)["wait"]
    assert (ti.state, ti.try_number) == (State.SUCCESS, 1)


@pytest.mark.slow
def test_tasks_why_explains_a_deferred_task(home: Home) -> None:
    _write(home, pool="gate")
    home.store.set_pool("gate", 1, include_deferred=True)
    run = home.trigger("waiter")
    scheduler = start_scheduler(home, exit_when_idle=True)
    try:
        ti = wait_for(
            lambda: (t := home.tis("waiter", run.run_id)["wait"]).state is State.DEFERRED and t
        )
        dag = home.store.get_dag("waiter")
        record = home.store.get_run("waiter", run.run_id)
        why = explain(home.store, lambda: None, dag, record, ti)  # type: ignore[arg-type,return-value]
        assert why.startswith("deferred: waiting for FlagTrigger to fire in the triggerer")
        assert "holds 1 slot(s) of pool 'gate' (the pool includes deferred tasks)" in why
        reason = wait_for(  # first "running", then "deferred" holds the slot
            lambda: (
                "deferred" in (r := home.tis("waiter", run.run_id)["writer"].wait_reason or "")
                and r
            )
        )
        assert reason == (
            "pool 'gate' full: 1 of 1 slots in use (1 by deferred tasks: the pool includes "
            "deferred), needs 1"
        )
        (home.path / "flag").touch()
        scheduler.wait(timeout=30)
    finally:
        stop(scheduler)
    assert home.run_state("waiter", run.run_id) is RunState.SUCCESS


def _standalone_triggerer(home: Home, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`taskkit triggerer` for `home`; its log (stderr) goes to `log`, else nowhere."""
    env = {
        **os.environ,
        "TASKKIT_HOME": str(home.path),
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": home.db_url,
        "TASKKIT__CORE__DAGS_FOLDER": str(home.path / "dags"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", "triggerer"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if log is None else log.open("wb"),
    )


def _waiting_without_a_triggerer(
    home: Home,
) -> tuple[RunRecord, threading.Thread, list[object]]:
    """A waiter run whose flag nobody writes, under a scheduler (in a thread) that starts no
    triggerer of its own: its run, the thread, and the scheduler's summary once it ends."""
    _write(home)
    waiter = home.path / "dags" / "waiter.py"
    waiter.write_text(waiter.read_text().replace('open(FLAG, "w").close()', "pass"))
    home.sync()
    run = home.trigger("waiter")
    outcome: list[object] = []
    scheduler = threading.Thread(
        target=lambda: outcome.append(home.run_scheduler(scheduler_standalone_triggerer=True))
    )
    scheduler.start()
    return run, scheduler, outcome


@pytest.mark.slow
def test_a_standalone_triggerer_killed_and_started_again_resumes_the_wait(home: Home) -> None:
    """With scheduler.standalone_triggerer the scheduler starts none; `taskkit triggerer` run
    by hand, SIGKILLed mid-wait and started again, picks the stored trigger up."""
    run, scheduler, outcome = _waiting_without_a_triggerer(home)
    starts = home.path / "flag.starts"
    triggerer = _standalone_triggerer(home)
    try:
        wait_for(lambda: starts.exists() and starts.read_text().strip(), timeout=30)
        triggerer.send_signal(signal.SIGKILL)
        triggerer.wait(timeout=10)
        assert home.tis("waiter", run.run_id)["wait"].state is State.DEFERRED
        assert _triggerer_pids(os.getpid()) == []  # the scheduler started none of its own
        triggerer = _standalone_triggerer(home)
        wait_for(lambda: len(starts.read_text().split()) >= 2, timeout=30)
        (home.path / "flag").touch()
        scheduler.join(timeout=60)
    finally:
        triggerer.terminate()
        triggerer.wait(timeout=10)
    assert outcome, "the scheduler did not finish"
    ti = home.tis("waiter", run.run_id)["wait"]
    assert (ti.state, ti.try_number) == (State.SUCCESS, 1)


@pytest.mark.slow
def test_a_second_triggerer_waits_on_standby_and_takes_over_when_the_first_dies(
    home: Home,
) -> None:
    """Two triggerers on one metastore: only one runs the trigger; SIGKILL it and the other
    starts the same wait at once, and the task still completes in its first try."""
    run, scheduler, outcome = _waiting_without_a_triggerer(home)
    starts = home.path / "flag.starts"
    first = _standalone_triggerer(home)
    second_log = home.path / "second-triggerer.log"
    second = None
    try:
        wait_for(lambda: starts.exists() and starts.read_text().strip(), timeout=30)
        second = _standalone_triggerer(home, second_log)
        wait_for(lambda: b"triggerer_standby" in second_log.read_bytes(), timeout=30)
        assert starts.read_text().split() == [str(first.pid)]  # the standby runs nothing
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        wait_for(lambda: len(starts.read_text().split()) >= 2, timeout=30)
        assert starts.read_text().split() == [str(first.pid), str(second.pid)]
        (home.path / "flag").touch()
        scheduler.join(timeout=60)
    finally:
        for triggerer in (first, second):
            if triggerer is not None and triggerer.poll() is None:
                triggerer.terminate()
                triggerer.wait(timeout=10)
    assert outcome, "the scheduler did not finish"
    ti = home.tis("waiter", run.run_id)["wait"]
    assert (ti.state, ti.try_number) == (State.SUCCESS, 1)
