"""Benchmark DAG.test(): per-task cost on a 500-task fan-out and per-hop cost on a 100-task chain.

Run: .venv/bin/python bench/bench_dag_test.py
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

from taskkit import DAG, chain, task


@task
def noop() -> None:
    return None


def fan_out(width: int) -> DAG:
    with DAG("fan_out", start_date=dt.datetime(2026, 1, 1)) as dag:
        root = noop()
        for _ in range(width):
            root >> noop()
    return dag


def linear_chain(length: int) -> DAG:
    with DAG("chain", start_date=dt.datetime(2026, 1, 1)) as dag:
        chain(*[noop() for _ in range(length)])
    return dag


def per_task_ms(dag: DAG, clock: Callable[[], float], repeats: int = 15) -> float:
    """Median cost of one DAG.test() divided by its task count, in ms, on `clock`."""
    dag.test()  # warm-up: builds the spec and caches
    samples = []
    for _ in range(repeats):
        started = clock()
        result = dag.test()
        samples.append(clock() - started)
        assert result.state == "success"
    return statistics.median(samples) * 1000 / len(dag.tasks)


def main() -> None:
    # CPU time is what the engine costs; wall time also shows what else the machine did.
    for name, clock in (("cpu", time.process_time), ("wall", time.perf_counter)):
        fan = per_task_ms(fan_out(499), clock)
        hop = per_task_ms(linear_chain(100), clock)
        print(
            f"DAG.test() [{name}] 500-task fan-out: {fan:.4f} ms per task; "
            f"100-task chain: {hop:.4f} ms per hop"
        )


if __name__ == "__main__":
    main()
