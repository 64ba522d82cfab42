"""DAG.test() runs a deferring task's trigger inline and resumes the task, as Airflow's does."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from taskkit import (
    DAG,
    BaseOperator,
    BaseTrigger,
    DateTimeSensor,
    FileSensor,
    TimeDeltaTrigger,
    TriggerEvent,
)
from taskkit.states import State

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class FailingTrigger(BaseTrigger):
    """A trigger whose wait breaks (importable by class path: this module)."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{__name__}.FailingTrigger", {}

    async def run(self) -> Any:
        await asyncio.sleep(0)
        raise ConnectionError("the bucket is unreachable")
        yield TriggerEvent(None)  # an async generator, as triggers are


class Waits(BaseOperator):
    def __init__(self, *, trigger: BaseTrigger, timeout: float | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.trigger = trigger
        self.wait_timeout = timeout

    def execute(self, context: Any) -> None:
        print("deferring")
        self.defer(
            trigger=self.trigger,
            method_name="done",
            kwargs={"since": T0},
            timeout=self.wait_timeout,
        )

    def done(self, context: Any, event: Any = None, since: dt.datetime | None = None) -> str:
        return f"woke at {event.isoformat()} after {since.isoformat() if since else None}"


def test_a_custom_operator_defers_and_resumes_in_one_try() -> None:
    with DAG("defers", schedule=None, start_date=T0) as dag:
        Waits(task_id="w", trigger=TimeDeltaTrigger(dt.timedelta(milliseconds=50)))

    result = dag.test()

    assert result.task_states == {"w": State.SUCCESS}
    assert result.try_number("w") == 1
    value = result.xcom("w")
    assert value.startswith("woke at ") and value.endswith(f"after {T0.isoformat()}")
    log = result.logs("w")
    assert "deferring" in log
    assert "Trigger taskkit.triggers.temporal.DateTimeTrigger fired" in log


def test_a_raising_trigger_fails_the_task_and_retries_apply() -> None:
    with DAG("breaks", schedule=None, start_date=T0) as dag:
        Waits(task_id="w", trigger=FailingTrigger(), retries=1, retry_delay=0)

    result = dag.test()

    assert result.task_states == {"w": State.FAILED}
    assert result.try_number("w") == 2
    log = result.logs("w")
    assert "TaskDeferralError: ConnectionError: the bucket is unreachable" in log
    assert 'raise ConnectionError("the bucket is unreachable")' in log  # the trigger's traceback


def test_a_deferral_past_its_timeout_fails_with_task_deferral_timeout() -> None:
    with DAG("late", schedule=None, start_date=T0) as dag:
        Waits(task_id="w", trigger=TimeDeltaTrigger(dt.timedelta(hours=1)), timeout=0.05)

    result = dag.test()

    assert result.task_states == {"w": State.FAILED}
    assert "TaskDeferralTimeout: Trigger/execution timeout" in result.logs("w")


def test_deferrable_sensors_defer_and_their_timeout_is_a_sensor_timeout(tmp_path: Path) -> None:
    """A deferred sensor's wait past its timeout fails without retrying (or skips with
    soft_fail); one whose condition comes true resumes to success."""
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(milliseconds=100)
    with DAG("sensing", schedule=None, start_date=T0) as dag:
        DateTimeSensor(task_id="moment", target_time=soon, deferrable=True)
        FileSensor(task_id="never", filepath=str(tmp_path / "none"), deferrable=True,
                   poke_interval=0.01, timeout=0.1, retries=2)  # fmt: skip
        FileSensor(task_id="soft", filepath=str(tmp_path / "none"), deferrable=True,
                   poke_interval=0.01, timeout=0.1, soft_fail=True)  # fmt: skip

    result = dag.test()

    assert result.task_states == {
        "moment": State.SUCCESS,
        "never": State.FAILED,
        "soft": State.SKIPPED,
    }
    assert result.try_number("never") == 1  # a sensor timeout does not retry
    assert "AirflowSensorTimeout" in result.logs("never")


class LocalTrigger(BaseTrigger):
    """As if defined in a DAG file: its class path names the DAG file's module."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return "taskkit_dagfile_0123456789ab.LocalTrigger", {}

    async def run(self) -> Any:
        yield TriggerEvent(None)


def test_a_trigger_defined_in_a_dag_file_is_refused_with_the_reason() -> None:
    with DAG("local", schedule=None, start_date=T0) as dag:
        Waits(task_id="w", trigger=LocalTrigger())

    result = dag.test()

    assert result.task_states == {"w": State.FAILED}
    assert "is defined in the DAG file" in result.logs("w")
    assert "move it to a module of its own" in result.logs("w")
