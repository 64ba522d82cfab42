"""`self.log` in custom operators and hooks, as Airflow's LoggingMixin gives them."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from taskkit import DAG, BaseHook, BaseOperator


class _Hook(BaseHook):
    def ping(self) -> None:
        self.log.warning("hook reached %s", "db")


class _Loud(BaseOperator):
    template_fields = ("msg",)

    def __init__(self, msg: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.msg = msg

    def execute(self, context: Any) -> str:
        self.log.info("rendered %s", self.msg)
        _Hook().ping()
        return self.msg


def test_self_log_in_an_operator_and_a_hook_reaches_the_trys_log() -> None:
    """A custom operator ported from Airflow logs with self.log; the lines are in its log,
    under a logger named after the class."""
    with DAG("loud", start_date=dt.datetime(2026, 1, 1)) as dag:
        _Loud(task_id="loud", msg="{{ ds }}")
    result = dag.test(logical_date=dt.datetime(2026, 3, 1))
    assert result.state == "success"
    log = result.logs("loud")
    assert "INFO taskkit.task.test_logging_mixin._Loud: rendered 2026-03-01" in log
    assert "WARNING taskkit.task.test_logging_mixin._Hook: hook reached db" in log


def test_the_logger_is_the_standard_one_for_the_class() -> None:
    """self.log is logging.getLogger's logger for the class, so handlers and levels apply."""
    with DAG("named"):
        op = _Loud(task_id="t", msg="x")
    assert op.log is logging.getLogger("taskkit.task.test_logging_mixin._Loud")
    assert _Hook().log is logging.getLogger("taskkit.task.test_logging_mixin._Hook")
