"""An Airflow-style DAG, ported by changing its imports to `from taskkit import ...`.

Branching, a task group, dynamic task mapping, setup/teardown and a Param:
it runs the same under `DAG.test()` and the scheduler.
"""

from __future__ import annotations

import datetime as dt

from taskkit import EmptyOperator, Param, TaskGroup, dag, setup, task, teardown


@dag(
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    params={"regions": Param(["eu", "us"], type="array", minItems=1)},
    default_args={"retries": 1, "retry_delay": dt.timedelta(seconds=5)},
    tags=["example", "airflow"],
)
def airflow_port() -> None:
    @setup
    def open_session() -> str:
        return "session-1"

    @task
    def regions(params: dict) -> list[str]:
        return list(params["regions"])

    @task
    def extract(region: str) -> int:
        return len(region) * 10

    @task.branch
    def choose(counts: list[int]) -> str:
        return "report.full" if sum(counts) > 50 else "report.summary"

    @teardown
    def close_session(session: str) -> None:
        print(f"closing {session}")

    session = open_session()
    counts = extract.expand(region=regions())
    with TaskGroup("report") as report:
        EmptyOperator(task_id="full")
        EmptyOperator(task_id="summary")
    done = EmptyOperator(task_id="done", trigger_rule="none_failed_min_one_success")
    session >> counts
    choose(counts) >> report >> done
    done >> close_session(session)


airflow_port()
