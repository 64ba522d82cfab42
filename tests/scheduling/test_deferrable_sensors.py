"""Each deferrable sensor (and TriggerDagRunOperator) defers to its trigger and resumes."""

from __future__ import annotations

import datetime as dt

import pytest
from harness import Home

from taskkit.states import RunState, State

SENSORS = """
from taskkit import (DateTimeSensor, ExternalTaskSensor, FileSensor, TimeDeltaSensor, TimeSensor,
                     TriggerDagRunOperator)

LANDED = os.path.join(os.path.dirname(RECORD), "landed.csv")
AT = dt.datetime.fromisoformat({at!r})


def land(ti):
    # Write the file once the FileSensor has deferred (its log says so), not before.
    import glob

    logs = os.path.join(os.path.dirname(RECORD), "logs", "**", "*")
    for _ in range(600):
        for path in glob.glob(logs, recursive=True):
            if os.path.isfile(path) and "FileTrigger" in open(path).read():
                open(LANDED, "w").close()
                note(ti, time.time())
                return
        time.sleep(0.1)
    raise RuntimeError("the FileSensor never deferred")


with DAG("producer", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    PythonOperator(task_id="produce", python_callable=lambda: time.sleep(12))

with DAG("sensors", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    TimeSensor(task_id="time", target_time=AT.timetz(), deferrable=True)
    TimeDeltaSensor(task_id="delta", delta=dt.timedelta(seconds=10), deferrable=True)
    DateTimeSensor(task_id="moment", target_time={at!r}, deferrable=True)
    FileSensor(task_id="file", filepath=LANDED, deferrable=True, poke_interval=0.1)
    PythonOperator(task_id="land", python_callable=land)
    ExternalTaskSensor(task_id="external", external_dag_id="producer", deferrable=True,
                       poke_interval=0.1)
    TriggerDagRunOperator(task_id="trigger", trigger_dag_id="producer",
                          trigger_run_id="triggered", wait_for_completion=True,
                          deferrable=True, poke_interval=0.1)
"""


@pytest.fixture
def try_settings(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """Tries read the home's metastore (ExternalTaskSensor), as under `taskkit scheduler`."""
    monkeypatch.setenv("TASKKIT_HOME", str(home.path))
    monkeypatch.setenv("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", home.db_url)
    return home


def test_each_deferrable_sensor_defers_and_resumes_in_one_try(try_settings: Home) -> None:
    home = try_settings
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    at = now + dt.timedelta(seconds=10)
    home.write_dag("sensors", SENSORS.format(at=at.isoformat()))
    home.sync()
    run = home.trigger("sensors", logical_date=now)
    producer = home.trigger("producer", logical_date=now)  # what ExternalTaskSensor waits for

    home.run_scheduler()

    tis = home.tis("sensors", run.run_id)
    waiting = ["time", "delta", "moment", "file", "external", "trigger"]
    assert {t: (tis[t].state, tis[t].try_number) for t in waiting} == dict.fromkeys(
        waiting, (State.SUCCESS, 1)
    )
    for task_id in waiting:
        log = home.log_text("sensors", run.run_id, task_id, 1)
        assert "outcome=deferred" in log, (task_id, log)
    assert tis["time"].ended_at is not None and tis["time"].ended_at >= at
    assert tis["moment"].ended_at is not None and tis["moment"].ended_at >= at
    assert home.run_state("producer", producer.run_id) is RunState.SUCCESS
    assert home.run_state("producer", "triggered") is RunState.SUCCESS
