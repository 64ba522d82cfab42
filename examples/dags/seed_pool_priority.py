"""Pools and priority weights: three tasks share a one-slot pool and run by priority.

`process_a`, `process_b` and `process_c` (priority weights 7, 6, 8) all need
`test_pool`. With one slot only one runs at a time, highest priority first,
so the order is c, a, b.

The pool must exist:
- in tests: `seed_pool_priority.test(pools={"test_pool": 1})`;
- for the scheduler: `taskkit pools import examples/pools.json` (which
  creates `test_pool` with 1 slot). The DAG runs once (`@once`) when the
  scheduler first sees it; `taskkit dags trigger seed_pool_priority` runs it again.
"""

from __future__ import annotations

import datetime as dt

from taskkit import dag, task


@dag(schedule="@once", start_date=dt.datetime(2026, 1, 1), catchup=False)
def seed_pool_priority() -> None:
    """Three tasks in a one-slot pool, started in priority order."""
    for name, weight in (("process_a", 7), ("process_b", 6), ("process_c", 8)):

        @task(task_id=name, pool="test_pool", priority_weight=weight)
        def process(ti: object = None) -> str:
            return f"processed by {ti.task_id}"  # type: ignore[attr-defined]

        process()


seed_pool_priority_dag = seed_pool_priority()

if __name__ == "__main__":
    print(seed_pool_priority_dag.test(pools={"test_pool": 1}).order)
