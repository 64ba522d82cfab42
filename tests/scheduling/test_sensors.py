"""Sensors under the real scheduler: reschedule mode gives its slots back, poke mode keeps them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from harness import Home, start_scheduler, stop, wait_for

from taskkit import DAG, ExternalTaskSensor
from taskkit.execution.base import TI
from taskkit.metastore import Metastore, TIChange
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.scheduling.recovery import recover_orphaned_tries
from taskkit.services.task_instances import explain
from taskkit.states import RunState, RunType, State

GATE = """
FLAG = os.path.join(os.path.dirname(RECORD), "flag")


def flag_exists(ti):
    start = time.time()
    found = os.path.exists(FLAG)
    note(ti, start, found=found)
    return found


def write_flag(ti):
    start = time.time()
    open(FLAG, "w").close()
    note(ti, start)


with DAG("gate", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    from taskkit import PythonSensor

    PythonSensor(task_id="sensor", python_callable=flag_exists, pool="gate", priority_weight=10,
                 mode={mode!r}, poke_interval={interval}, timeout={timeout}, retries=1,
                 retry_delay=0)
    PythonOperator(task_id="writer", python_callable=write_flag, pool="gate", priority_weight=1)
"""


def _pokes(home: Home) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in home.record.read_text().splitlines()]
    return [line for line in lines if line["task"] == "sensor"]


def test_a_rescheduled_sensor_lets_another_task_use_its_one_slot_pool(home: Home) -> None:
    """Between pokes a reschedule-mode sensor holds no pool slot: the writer runs meanwhile."""
    home.write_dag("gate", GATE.format(mode="reschedule", interval=0.1, timeout=60))
    home.sync()
    home.pool("gate", 1)
    run = home.trigger("gate")

    home.run_scheduler()

    tis = home.tis("gate", run.run_id)
    assert (tis["sensor"].state, tis["writer"].state) == (State.SUCCESS, State.SUCCESS)
    assert tis["sensor"].try_number == 1  # pokes of one try, not new tries
    assert tis["sensor"].first_poke_at is None  # cleared once the try ended
    pokes = _pokes(home)
    writer = next(t for t in home.tries("gate") if t.task == "writer")
    assert (pokes[0]["found"], pokes[-1]["found"]) == (False, True)
    assert pokes[0]["end"] <= writer.start < pokes[-1]["start"]  # ran while the sensor waited
    assert {p["try"] for p in pokes} == {1}
    log = home.log_text("gate", run.run_id, "sensor", 1)
    assert log.count("try_started") == len(pokes)  # every poke appends to try 1's log
    assert "outcome=rescheduled" in log


def test_a_poke_mode_sensor_holds_its_pool_until_it_times_out_without_retrying(
    home: Home,
) -> None:
    """In poke mode the sensor keeps its slot: the writer waits, the sensor times out, and
    its timeout fails it without using its retry."""
    home.write_dag("gate", GATE.format(mode="poke", interval=0.1, timeout=0.6))
    home.sync()
    home.pool("gate", 1)
    run = home.trigger("gate")

    home.run_scheduler()

    tis = home.tis("gate", run.run_id)
    assert tis["sensor"].state is State.FAILED
    assert tis["sensor"].try_number == 1  # retries=1, but a sensor timeout does not retry
    assert "AirflowSensorTimeout" in (tis["sensor"].error or "")
    assert tis["writer"].state is State.SUCCESS
    pokes = _pokes(home)
    writer = next(t for t in home.tries("gate") if t.task == "writer")
    assert len(pokes) >= 2 and not any(p["found"] for p in pokes)
    assert writer.start >= max(float(str(p["end"])) for p in pokes)


OUTCOMES = """
def boom(ti):
    note(ti, time.time())
    raise RuntimeError("cannot reach the bucket")


def flaky(ti):
    note(ti, time.time())
    if len(open(RECORD).read().splitlines()) < 3:
        raise RuntimeError("not yet reachable")
    return True


with DAG("outcomes", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    from taskkit import PythonSensor

    PythonSensor(task_id="raises", python_callable=boom, mode="reschedule", poke_interval=0.05,
                 retries=1, retry_delay=0)
    PythonSensor(task_id="silent", python_callable=flaky, mode="reschedule", poke_interval=0.05,
                 silent_fail=True)
    PythonSensor(task_id="times_out", python_callable=lambda: False, mode="reschedule",
                 poke_interval=0.05, timeout=0.3, retries=2)
    PythonSensor(task_id="soft", python_callable=lambda: False, mode="reschedule",
                 poke_interval=0.05, timeout=0.3, soft_fail=True)
"""


def test_sensor_failures_timeouts_and_soft_fail_under_the_scheduler(any_home: Home) -> None:
    """A raising poke fails the try (retries apply); silent_fail pokes on; a timeout fails at
    once across reschedules; soft_fail skips instead."""
    any_home.write_dag("outcomes", OUTCOMES)
    any_home.sync()
    run = any_home.trigger("outcomes")

    any_home.run_scheduler()

    tis = any_home.tis("outcomes", run.run_id)
    assert {t: (ti.state, ti.try_number) for t, ti in tis.items()} == {
        "raises": (State.FAILED, 2),
        "silent": (State.SUCCESS, 1),
        "times_out": (State.FAILED, 1),
        "soft": (State.SKIPPED, 1),
    }
    assert tis["raises"].error == "RuntimeError: cannot reach the bucket"
    assert "AirflowSensorTimeout" in (tis["times_out"].error or "")
    assert "timed out" in (tis["soft"].error or "")
    assert any_home.run_state("outcomes", run.run_id) is RunState.FAILED


EXTERNAL = """
with DAG("producer", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    @task
    def produce(ti=None, dag_run=None):
        time.sleep(0.3)
        note(ti, time.time())
        if dag_run.conf.get("fail"):
            raise RuntimeError("bad batch")

    produce()

with DAG("consumer", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    from taskkit import ExternalTaskSensor

    @task
    def use(ti=None):
        note(ti, time.time())

    ExternalTaskSensor(task_id="wait", external_dag_id="producer", external_task_id="produce",
                       failed_states=["failed"], mode="reschedule", poke_interval=0.1,
                       execution_delta=dt.timedelta(hours=1)) >> use()
"""


@pytest.fixture
def try_settings(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """Tries read the home's metastore (ExternalTaskSensor), as under `taskkit scheduler`."""
    monkeypatch.setenv("TASKKIT_HOME", str(home.path))
    monkeypatch.setenv("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", home.db_url)
    return home


def test_external_task_sensor_waits_for_another_dags_run(try_settings: Home) -> None:
    """The sensor succeeds once the producer's task at its logical date minus the delta has."""
    home = try_settings
    home.write_dag("pair", EXTERNAL)
    home.sync()
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    consumer = home.trigger("consumer", logical_date=t0 + dt.timedelta(hours=1))
    home.trigger("producer", logical_date=t0 - dt.timedelta(days=1))  # another date: ignored
    producer = home.trigger("producer", logical_date=t0)

    home.run_scheduler()

    assert home.run_state("producer", producer.run_id) is RunState.SUCCESS
    assert home.run_state("consumer", consumer.run_id) is RunState.SUCCESS
    ends = {t.task: t.end for t in home.tries() if t.run in (producer.run_id, consumer.run_id)}
    assert ends["use"] > ends["produce"]
    assert home.tis("consumer", consumer.run_id)["wait"].try_number == 1

    # DAG.test() reads the same metastore: the producer's run at t0 is there, at t0 + 1 day not.
    with DAG("checker", schedule=None, start_date=t0) as checker:
        ExternalTaskSensor(task_id="wait", external_dag_id="producer", poke_interval=0.01,
                           timeout=0.05, soft_fail=True)  # fmt: skip
    assert checker.test(logical_date=t0).task_states == {"wait": State.SUCCESS}
    later = checker.test(logical_date=t0 + dt.timedelta(days=1))
    assert later.task_states == {"wait": State.SKIPPED}


def test_external_task_sensor_fails_when_the_task_fails(try_settings: Home) -> None:
    """An external task in failed_states fails the sensor with that reason."""
    home = try_settings
    home.write_dag("pair", EXTERNAL)
    home.sync()
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    consumer = home.trigger("consumer", logical_date=t0 + dt.timedelta(hours=1))
    home.trigger("producer", logical_date=t0, conf={"fail": True})

    home.run_scheduler()

    wait = home.tis("consumer", consumer.run_id)["wait"]
    assert wait.state is State.FAILED
    assert "ExternalTaskFailedError" in (wait.error or "")
    assert "produce=failed" in (wait.error or "")


WAITING = """
with DAG("waiting", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    from taskkit import FileSensor

    FileSensor(task_id="landed", filepath=os.path.join(os.path.dirname(RECORD), "in", "*.csv"),
               pool="gate", mode="reschedule", poke_interval=0.3)
"""


@pytest.mark.slow
def test_a_waiting_sensor_is_explained_and_holds_no_slot_until_the_file_lands(home: Home) -> None:
    """While up_for_reschedule, `tasks why` and the stored wait reason give the next poke time
    and its pool shows no slot in use; a file appearing ends the wait."""
    home.write_dag("waiting", WAITING)
    home.sync()
    home.pool("gate", 1)
    run = home.trigger("waiting")
    scheduler = start_scheduler(home, exit_when_idle=True)
    try:
        waiting = wait_for(
            lambda: (
                (ti := home.tis("waiting", run.run_id)["landed"]).state is State.UP_FOR_RESCHEDULE
                and ti
            )
        )
        assert waiting.wait_reason is not None
        assert waiting.wait_reason.startswith("up for reschedule, next poke at ")
        assert waiting.next_retry_at is not None and waiting.first_poke_at is not None
        why = explain(
            home.store,
            lambda: pytest.fail("no upstream to name"),
            home.store.get_dag("waiting"),
            home.store.get_run("waiting", run.run_id),
            waiting,
        )
        assert why.startswith(waiting.wait_reason + " (try 1, poking since ")
        gate = next(p for p in home.store.pool_usage() if p.name == "gate")
        assert (gate.running, gate.queued) == (0, 0)

        (home.path / "in").mkdir()
        (home.path / "in" / "orders.csv").write_text("id\n1\n")
        assert scheduler.wait(30) == 0
    finally:
        stop(scheduler)
    landed = home.tis("waiting", run.run_id)["landed"]
    assert (landed.state, landed.try_number) == (State.SUCCESS, 1)


class _AdoptsNone:
    def adopt(self, tis: list[TI]) -> list[TI]:
        return tis


def test_a_poke_cut_short_by_a_dead_scheduler_resumes_the_same_try(metastore: Metastore) -> None:
    """Recovery puts a later poke back to scheduled with its first-poke time and no extra try;
    a first poke cut short is reset as any try is (one more try allowed)."""
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    saved = metastore.save_dag_version("d", "/dags/d.py", b"p", "h", "s")
    metastore.create_run(
        "d",
        "r",
        t0,
        run_type=RunType.MANUAL,
        dag_version_id=saved.version_id,
        tasks=[TaskSpec("later"), TaskSpec("first")],
    )
    metastore.transition_task_instances(
        [
            TIChange(
                TaskInstanceKey("d", "r", "later"),
                State.NONE,
                state=State.RUNNING,
                try_number=1,
                first_poke_at=t0,
            ),
            TIChange(
                TaskInstanceKey("d", "r", "first"), State.NONE, state=State.RUNNING, try_number=1
            ),
        ]
    )

    assert recover_orphaned_tries(metastore, _AdoptsNone()) == 2

    tis = {ti.task_id: ti for ti in metastore.list_task_instances("d", "r")}
    assert (tis["later"].state, tis["later"].max_tries, tis["later"].first_poke_at) == (
        State.SCHEDULED,
        1,
        t0,
    )
    assert (tis["first"].state, tis["first"].max_tries) == (State.SCHEDULED, 2)


def test_a_file_sensor_reads_its_base_path_from_the_connection(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the scheduler, fs_conn_id's extra `path` is where the file is looked for, and an
    undefined connection fails the sensor with its name."""
    landing = home.path / "landing"
    (landing / "in").mkdir(parents=True)
    (landing / "in" / "orders.csv").write_text("id\n", encoding="utf-8")
    monkeypatch.setenv("TASKKIT_CONN_LANDING", json.dumps({"extra": {"path": str(landing)}}))
    home.write_dag(
        "files",
        """
        from taskkit import FileSensor

        with DAG("files", schedule=None, start_date=dt.datetime(2026, 1, 1)):
            FileSensor(task_id="found", filepath="in/*.csv", fs_conn_id="landing",
                       mode="reschedule", poke_interval=0.2)
            FileSensor(task_id="unknown", filepath="in/*.csv", fs_conn_id="nas", retries=0)
        """,
    )
    home.sync()
    run = home.trigger("files")
    home.run_scheduler()
    tis = home.tis("files", run.run_id)
    assert tis["found"].state is State.SUCCESS
    assert tis["unknown"].state is State.FAILED
    assert "The conn_id 'nas' isn't defined" in (tis["unknown"].error or "")


GROUPS = """
from taskkit import ExternalTaskSensor, TaskGroup

with DAG("grouped", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    def step(ti=None, dag_run=None):
        if dag_run.conf.get("fail"):
            raise RuntimeError("load broke")

    with TaskGroup("load"):
        first = PythonOperator(task_id="first", python_callable=step)
        first >> PythonOperator.partial(task_id="each", python_callable=lambda x: x).expand(
            op_args=[[1], [2]]
        )
    PythonOperator(task_id="outside", python_callable=lambda: None)

with DAG("waits", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    ExternalTaskSensor(task_id="group", external_dag_id="grouped", external_task_group_id="load",
                       failed_states=["failed", "upstream_failed"], mode="reschedule",
                       poke_interval=0.1, retries=0)
    ExternalTaskSensor(task_id="missing", external_dag_id="grouped",
                       external_task_group_id="nope", retries=0)
"""


def test_external_task_sensor_waits_for_every_task_of_a_group(try_settings: Home) -> None:
    """A group is done when all its tasks (mapped instances too) are; it fails once they all
    reached a failed state; a group the run does not have fails the sensor naming it."""
    home = try_settings
    home.write_dag("groups", GROUPS)
    home.sync()
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    t1 = t0 + dt.timedelta(days=1)
    ok = home.trigger("waits", logical_date=t0)
    broken = home.trigger("waits", logical_date=t1)
    home.trigger("grouped", logical_date=t0)
    home.trigger("grouped", logical_date=t1, conf={"fail": True})

    home.run_scheduler()

    assert home.tis("waits", ok.run_id)["group"].state is State.SUCCESS
    failed = home.tis("waits", broken.run_id)["group"]
    assert failed.state is State.FAILED
    assert "task group 'load' of 'grouped'" in (failed.error or "")
    missing = home.tis("waits", ok.run_id)["missing"]
    assert missing.state is State.FAILED
    assert "Task group 'nope' not found in run" in (missing.error or "")
    # DAG.test() reads the same metastore: the group is done at t0, never at t1 (it failed).
    with DAG("checker", schedule=None, start_date=t0) as checker:
        ExternalTaskSensor(task_id="wait", external_dag_id="grouped", poke_interval=0.01,
                           external_task_group_id="load", timeout=0.05, soft_fail=True)  # fmt: skip
    assert checker.test(logical_date=t0).task_states == {"wait": State.SUCCESS}
    assert checker.test(logical_date=t1).task_states == {"wait": State.SKIPPED}
