"""BaseSensorOperator, PokeReturnValue and @task.sensor under DAG.test(), as in Airflow."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import (
    DAG,
    AirflowFailException,
    BaseSensorOperator,
    PokeReturnValue,
    PythonSensor,
    State,
    task,
)
from taskkit.errors import InvalidTaskParameterError
from taskkit.states import RunState

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _counter(done_after: int) -> Any:
    """A callable that is true from its `done_after`-th call on, counting its calls."""
    calls: list[int] = []

    def ready() -> bool:
        calls.append(1)
        return len(calls) >= done_after

    ready.calls = calls  # type: ignore[attr-defined]
    return ready


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_a_sensor_pokes_until_done_within_one_try(mode: str) -> None:
    """Poke or reschedule, three pokes are one try, and the task after it then runs."""
    ready = _counter(3)
    with DAG("d", schedule=None, start_date=START) as dag:
        sensor = PythonSensor(task_id="wait", python_callable=ready, poke_interval=0.01, mode=mode)

        @task
        def after() -> str:
            return "ran"

        sensor >> after()

    result = dag.test()
    assert result.state is RunState.SUCCESS
    assert len(ready.calls) == 3
    assert result.try_number("wait") == 1
    assert result.order == ["wait", "after"]
    assert result.xcom("wait") is None  # a plain True pushes nothing


def test_task_sensor_pushes_its_poke_return_value_and_takes_upstream_values() -> None:
    """@task.sensor's PokeReturnValue(True, value) becomes its XCom; arguments may be XComArgs."""
    with DAG("d", schedule=None, start_date=START) as dag:

        @task
        def name() -> str:
            return "orders"

        @task.sensor(poke_interval=0.01, mode="reschedule")
        def landed(table: str) -> PokeReturnValue:
            return PokeReturnValue(is_done=True, xcom_value={"table": table, "rows": 3})

        @task
        def load(found: dict[str, Any]) -> int:
            return int(found["rows"])

        load(landed(name()))

    result = dag.test()
    assert result.xcom("landed") == {"table": "orders", "rows": 3}
    assert result.xcom("load") == 3


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_a_timeout_fails_without_retrying_and_soft_fail_skips(mode: str) -> None:
    """timeout counts from the first poke; running out fails at once, or skips with soft_fail."""
    with DAG("d", schedule=None, start_date=START) as dag:
        hard = PythonSensor(
            task_id="hard",
            python_callable=lambda: False,
            poke_interval=0.02,
            timeout=0.1,
            mode=mode,
            retries=3,
        )
        soft = PythonSensor(
            task_id="soft",
            python_callable=lambda: False,
            poke_interval=0.02,
            timeout=0.1,
            mode=mode,
            soft_fail=True,
        )

        @task
        def after_soft() -> None:
            return None

        soft >> after_soft()
        assert hard.timeout == 0.1

    result = dag.test()
    assert result.task_states == {
        "hard": State.FAILED,
        "soft": State.SKIPPED,
        "after_soft": State.SKIPPED,
    }
    assert result.try_number("hard") == 1
    assert "AirflowSensorTimeout: Sensor has timed out" in result.logs("hard")


def test_a_raising_poke_fails_the_try_and_retries_apply() -> None:
    """A poke that raises fails its try like any task: the retry starts a new try."""
    with DAG("d", schedule=None, start_date=START) as dag:

        @task.sensor(poke_interval=0.01, retries=1, retry_delay=0)
        def unreachable() -> bool:
            raise ConnectionError("bucket unreachable")

        unreachable()

    result = dag.test()
    assert result.task_states == {"unreachable": State.FAILED}
    assert result.try_number("unreachable") == 2
    assert "ConnectionError: bucket unreachable" in result.logs("unreachable")


def test_silent_fail_pokes_on_and_never_fail_skips() -> None:
    """silent_fail logs a raising poke and pokes again; never_fail skips the task instead."""
    calls: list[int] = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not reachable yet")
        return True

    with DAG("d", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="silent", python_callable=flaky, poke_interval=0.01, silent_fail=True)
        PythonSensor(
            task_id="never",
            python_callable=lambda: 1 / 0,
            poke_interval=0.01,
            never_fail=True,
        )

    result = dag.test()
    assert result.task_states == {"silent": State.SUCCESS, "never": State.SKIPPED}
    assert result.logs("silent").count("ConnectionError: not reachable yet") == 2


def test_a_fail_exception_in_a_poke_is_not_retried() -> None:
    """AirflowFailException from a poke fails the task at once, soft_fail turns it into a skip."""

    def refuse() -> bool:
        raise AirflowFailException("credentials revoked")

    with DAG("d", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="fail", python_callable=refuse, retries=2)
        PythonSensor(task_id="soft", python_callable=refuse, soft_fail=True)

    result = dag.test()
    assert result.task_states == {"fail": State.FAILED, "soft": State.SKIPPED}
    assert result.try_number("fail") == 1


class _Sensor(BaseSensorOperator):
    def poke(self, context: Any) -> bool:
        return False


def test_exponential_backoff_doubles_up_to_max_wait_and_the_time_left() -> None:
    """Waits double after each poke, capped by max_wait and by what is left of the timeout."""
    with DAG("d", schedule=None, start_date=START):
        sensor = _Sensor(
            task_id="s", poke_interval=1, exponential_backoff=True, max_wait=5, timeout=60
        )
        plain = _Sensor(task_id="p", poke_interval=2, max_wait=1)
    assert [sensor.next_interval(n, 0) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert sensor.next_interval(3, 58.5) == 1.5  # only 1.5 s left before the timeout
    assert plain.next_interval(5, 0) == 2  # max_wait applies only with backoff, as in Airflow
    # Reschedule mode counts its pokes from the time waited: at 0, 1, 3, 7, 12 seconds.
    assert [sensor.pokes_before(t) for t in (0, 0.5, 1, 2.9, 3, 7, 11.9, 12)] == [
        1, 1, 2, 2, 3, 4, 4, 5,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"mode": "sleep"}, "mode must be 'poke' or 'reschedule', got 'sleep'"),
        ({"poke_interval": -1}, "poke_interval must not be negative"),
        ({"timeout": "soon"}, "timeout must be a timedelta or seconds"),
        ({"soft_fail": True, "never_fail": True}, "soft_fail and never_fail exclude each other"),
    ],
)
def test_bad_sensor_arguments_fail_where_the_dag_is_defined(
    arguments: dict[str, Any], message: str
) -> None:
    """Each bad argument is one line naming the DAG, the task and the fix."""
    with DAG("d", schedule=None, start_date=START), pytest.raises(InvalidTaskParameterError) as err:
        _Sensor(task_id="s", **arguments)
    assert str(err.value).startswith("DAG 'd', task 's': ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_sensor_defaults_are_airflows() -> None:
    """poke mode, a minute between pokes, a week's timeout."""
    with DAG("d", schedule=None, start_date=START):
        sensor = _Sensor(task_id="s")
    assert (sensor.mode, sensor.poke_interval, sensor.timeout) == ("poke", 60, 7 * 24 * 3600)
    assert sensor.reschedule is False
