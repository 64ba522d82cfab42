"""Retry policies: the exception of a failed try decides whether, and when, it is retried."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import (
    DAG,
    ExceptionRetryPolicy,
    PythonOperator,
    RetryAction,
    RetryDecision,
    RetryPolicy,
    RetryRule,
    task,
)
from taskkit.errors import AirflowFailException, DagDefinitionError
from taskkit.states import State

MINUTE = dt.timedelta(minutes=1)


def test_the_first_matching_rule_decides_and_default_covers_the_rest() -> None:
    """Rules match by class or dotted path (subclasses too, unless told not to), in order."""
    policy = ExceptionRetryPolicy(
        rules=[
            RetryRule(exception=[TimeoutError, "builtins.KeyError"], retry_delay=MINUTE),
            RetryRule(exception=OSError, action=RetryAction.FAIL, reason="the disk"),
            RetryRule(exception=LookupError, action=RetryAction.FAIL, match_subclasses=False),
        ],
        default=RetryAction.FAIL,
    )
    assert policy.evaluate(TimeoutError(), 1, 3) == RetryDecision(
        RetryAction.RETRY, MINUTE, "Matched rule for TimeoutError"
    )
    assert policy.evaluate(KeyError("k"), 1, 3).retry_delay == MINUTE
    # TimeoutError is an OSError, but the earlier rule won; another OSError gets this one.
    assert policy.evaluate(FileNotFoundError(), 1, 3) == RetryDecision.fail("the disk")
    assert policy.evaluate(LookupError(), 1, 3).action is RetryAction.FAIL
    # IndexError is a LookupError, but the rule wants the exact class: the default applies.
    assert policy.evaluate(IndexError(), 1, 3) == RetryDecision(RetryAction.FAIL)
    assert ExceptionRetryPolicy([]).evaluate(ValueError(), 1, 3) == RetryDecision.default()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exception": "HTTPError"}, r"dotted import path of one.*got 'HTTPError'"),
        ({"exception": ValueError()}, r"must be an exception class"),
        ({"exception": dict}, r"must be an exception class"),
        ({"exception": ValueError, "action": "retry"}, r"action must be RetryAction"),
        ({"exception": ValueError, "retry_delay": 5}, r"retry_delay must be a timedelta"),
        ({"exception": ValueError, "retry_delay": -MINUTE}, r"retry_delay must be a timedelta"),
    ],
)
def test_a_bad_rule_fails_where_it_is_written(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        RetryRule(**kwargs)


def test_a_task_takes_a_policy_from_default_args_and_checks_it() -> None:
    """retry_policy is a task argument like retries; anything without evaluate() is refused,
    and a dotted path that imports nothing leaves a DAG warning (its rule never matches)."""
    policy = ExceptionRetryPolicy([RetryRule(exception="no_such_package.errors.Flaky")])
    with DAG("policy", default_args={"retry_policy": policy}) as d:
        op = PythonOperator(task_id="t", python_callable=lambda: None)
    assert op.retry_policy is policy
    assert any(
        "'no_such_package.errors.Flaky'" in w and "cannot be imported" in w for w in d.warnings
    )
    with DAG("bad"), pytest.raises(DagDefinitionError, match="retry_policy must be a RetryPolicy"):
        PythonOperator(task_id="t", python_callable=lambda: None, retry_policy="retry")


def _run(policy: RetryPolicy, error: BaseException, retries: int = 3) -> tuple[Any, list[str]]:
    """DAG.test() of one task that always raises `error`: its result and callback calls."""
    called: list[str] = []
    with DAG("policed") as d:

        @task(
            retries=retries,
            retry_delay=dt.timedelta(0),
            retry_policy=policy,
            on_retry_callback=lambda context: called.append("retry"),
            on_failure_callback=lambda context: called.append("failure"),
        )
        def always() -> None:
            raise error

        always()
    return d.test(), called


def test_fail_uses_no_more_retries_and_calls_the_failure_callback() -> None:
    policy = ExceptionRetryPolicy([RetryRule(exception=PermissionError, action=RetryAction.FAIL)])
    result, called = _run(policy, PermissionError("denied"))
    assert result.task_states["always"] is State.FAILED
    assert result.try_number("always") == 1
    assert called == ["failure"]
    assert "Retry policy: fail (Matched rule for PermissionError)" in result.logs("always")


def test_retry_never_gives_more_tries_than_retries() -> None:
    policy = ExceptionRetryPolicy([RetryRule(exception=ValueError)])
    result, called = _run(policy, ValueError("again"), retries=2)
    assert result.try_number("always") == 3
    assert called == ["retry", "retry", "failure"]


class _GiveUpAfterTwo(RetryPolicy):
    """A policy of one's own: it sees the try number and Airflow's max_tries (the retries)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, str]] = []

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Any = None,
    ) -> RetryDecision:
        assert context is not None
        self.seen.append((try_number, max_tries, context["ti"].task_id))
        return RetryDecision.fail("two is enough") if try_number >= 2 else RetryDecision.retry()


def test_a_policy_of_ones_own_sees_the_try_and_its_context() -> None:
    policy = _GiveUpAfterTwo()
    # DAG.test() runs in this process, so the policy object here is the one asked.
    result, _ = _run(policy, RuntimeError("boom"), retries=5)
    assert result.try_number("always") == 2
    assert policy.seen == [(1, 5, "always"), (2, 5, "always")]


class _Broken(RetryPolicy):
    def evaluate(self, *args: Any, **kwargs: Any) -> RetryDecision:
        raise RuntimeError("policy bug")


def test_a_broken_policy_leaves_the_tasks_own_rules_in_charge() -> None:
    result, _ = _run(_Broken(), ValueError("x"), retries=1)
    assert result.try_number("always") == 2
    logs = result.logs("always")
    assert "RuntimeError: policy bug" in logs
    assert "Retry policy failed; the task's own retry rules apply." in logs


def test_a_fail_exception_is_never_put_to_the_policy() -> None:
    policy = _GiveUpAfterTwo()
    result, called = _run(policy, AirflowFailException("stop"))
    assert result.try_number("always") == 1
    assert policy.seen == []
    assert called == ["failure"]
