"""BashSensor: exit 0 is done, other codes mean "not yet" unless retry_exit_code narrows them."""

from __future__ import annotations

import datetime as dt

from taskkit import DAG, BashSensor, State

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_exit_codes_decide_done_not_yet_and_failed(tmp_path: object) -> None:
    """0 is done; 1 keeps poking until the timeout; a code other than retry_exit_code fails."""
    with DAG("d", schedule=None, start_date=START) as dag:
        BashSensor(task_id="done", bash_command="echo 'ds={{ ds }}'; exit 0", poke_interval=0.01)
        BashSensor(
            task_id="not_yet",
            bash_command="exit 1",
            poke_interval=0.01,
            timeout=0.05,
            soft_fail=True,
        )
        BashSensor(
            task_id="broken",
            bash_command="exit 2",
            retry_exit_code=1,
            poke_interval=0.01,
            retries=2,
        )

    result = dag.test(logical_date=START)
    assert result.task_states == {
        "done": State.SUCCESS,
        "not_yet": State.SKIPPED,
        "broken": State.FAILED,
    }
    assert "ds=2026-01-01" in result.logs("done")
    assert result.try_number("broken") == 1  # a wrong exit code fails without retrying
    assert "Command exited with return code 2" in result.logs("broken")
