"""pool_slots: a 3-slot task shares a 4-slot pool with a stream of 1-slot tasks.

`rebuild_index` needs 3 of the `warehouse` pool's 4 slots; eight `load_*`
tasks need 1 each. `rebuild_index` has the higher priority, so once it is
waiting the pool drains for it: no lower-priority load starts in between, and
the big task is never starved by the small ones. (`warmup` takes 2 slots
first so that rebuild_index really has to wait.)

Tests: `pool_slots_dag.test(pools={"warehouse": 4})`. Scheduler:
`taskkit pools import examples/pools.json` creates `warehouse` with 4 slots.
"""

from __future__ import annotations

import datetime as dt

from taskkit import EmptyOperator, dag


@dag(schedule="@once", start_date=dt.datetime(2026, 1, 1))
def pool_slots() -> None:
    """A heavy task and many light ones in one pool."""
    EmptyOperator(task_id="warmup", pool="warehouse", pool_slots=2, priority_weight=100)
    EmptyOperator(task_id="rebuild_index", pool="warehouse", pool_slots=3, priority_weight=10)
    for i in range(8):
        EmptyOperator(task_id=f"load_{i}", pool="warehouse", pool_slots=1, priority_weight=1)


pool_slots_dag = pool_slots()

if __name__ == "__main__":
    print(pool_slots_dag.test(pools={"warehouse": 4}).order)
