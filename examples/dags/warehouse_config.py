"""Variables and connections: settings and credentials a DAG reads when it runs.

plan() reads the JSON variable `warehouse_limits` (with a default) and the
`warehouse` connection; its password is *** in the task's log. The bash task
reads both through templates. Before running it under the scheduler:

    taskkit variables set warehouse_limits '{"rows": 500}' --serialize-json
    taskkit connections add warehouse --conn-uri postgres://etl:PASSWORD@db:5432/dw

In a test, pass them to DAG.test(variables=..., connections=...).
"""

from __future__ import annotations

from typing import Any

from taskkit import BaseHook, BashOperator, Variable, dag, task, timezone


@dag(schedule=None, start_date=timezone.datetime(2026, 1, 1), catchup=False)
def warehouse_config() -> None:
    """Plan a load from a variable and a connection, then report where it goes."""

    @task
    def plan() -> dict[str, Any]:
        limits = Variable.get("warehouse_limits", default={"rows": 100}, deserialize_json=True)
        conn = BaseHook.get_connection("warehouse")
        print(f"connecting to {conn.host}:{conn.port} as {conn.login} with {conn.password}")
        return {"host": conn.host, "rows": limits["rows"]}

    report = BashOperator(
        task_id="report",
        bash_command="echo {{ var.value.get('team', 'data') }} loads "
        "{{ var.json.get('warehouse_limits', {'rows': 100}).rows }} rows into "
        "{{ conn.warehouse.schema }}",
    )
    plan() >> report


warehouse_config_dag = warehouse_config()
