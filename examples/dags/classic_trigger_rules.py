"""Classic `with DAG(...)` style: chain, cross_downstream and trigger rules.

Two sources fan into two checks (cross_downstream); one check fails on
purpose. `publish` (all_success) is therefore upstream_failed, `alert`
(one_failed) runs, and `cleanup` (all_done) runs whatever happened. The run
succeeds because its leaves (alert, cleanup) did not fail.
"""

from __future__ import annotations

import datetime as dt

from taskkit import DAG, EmptyOperator, PythonOperator, TriggerRule, chain, cross_downstream


def strict_check() -> None:
    raise ValueError("row count below threshold")


with DAG(
    "classic_trigger_rules",
    schedule="@once",
    start_date=dt.datetime(2026, 1, 1),
    description="chain, cross_downstream and trigger rules",
) as classic_trigger_rules_dag:
    start = EmptyOperator(task_id="start")
    sources = [EmptyOperator(task_id="source_a"), EmptyOperator(task_id="source_b")]
    checks = [
        EmptyOperator(task_id="lenient_check"),
        PythonOperator(task_id="strict_check", python_callable=strict_check),
    ]
    publish = EmptyOperator(task_id="publish")
    alert = EmptyOperator(task_id="alert", trigger_rule=TriggerRule.ONE_FAILED)
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")

    chain(start, sources)
    cross_downstream(sources, checks)
    chain(checks, [publish, alert])  # pairwise: lenient_check >> publish, strict_check >> alert
    checks[1] >> publish
    [publish, alert] >> cleanup

if __name__ == "__main__":
    print(classic_trigger_rules_dag.test().task_states)
