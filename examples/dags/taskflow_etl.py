"""A TaskFlow ETL: values pass between tasks as XComs; a templated BashOperator reports.

extract() returns rows, transform() gets them as an argument (which also adds
the edge), load() gets a dict that nests two upstream outputs, and the bash
task echoes the run's date and try number through Jinja templates.
"""

from __future__ import annotations

import datetime as dt

from taskkit import BashOperator, dag, task


@dag(
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    params={"multiplier": 2},
    default_args={"retries": 1, "retry_delay": dt.timedelta(seconds=5)},
)
def taskflow_etl() -> None:
    """Extract, transform and load a few rows, then report."""

    @task
    def extract() -> list[dict[str, int]]:
        return [{"id": 1, "amount": 10}, {"id": 2, "amount": 32}]

    @task
    def transform(rows: list[dict[str, int]], params: dict[str, int]) -> list[int]:
        return [row["amount"] * params["multiplier"] for row in rows]

    @task
    def count(rows: list[dict[str, int]]) -> int:
        return len(rows)

    @task
    def load(summary: dict[str, object]) -> str:
        amounts = summary["amounts"]
        assert isinstance(amounts, list)
        return f"loaded {summary['rows']} rows totalling {sum(amounts)}"

    rows = extract()
    report = BashOperator(
        task_id="report",
        bash_command="echo 'run {{ ds }} try {{ ti.try_number }}: {{ ti.xcom_pull(\"load\") }}'",
    )
    load({"amounts": transform(rows), "rows": count(rows)}) >> report


taskflow_etl_dag = taskflow_etl()

if __name__ == "__main__":
    print(taskflow_etl_dag.test().xcom("report"))
