"""Benchmark priority_weight_total on a 10,000-task lattice (100 layers x 100 tasks, 3 edges each).

Run: .venv/bin/python bench/bench_priority.py
"""

from __future__ import annotations

import statistics
import time
from itertools import pairwise

from taskkit import DAG, EmptyOperator, WeightRule
from taskkit.model.graph import priority_weight_totals

LAYERS, WIDTH, FAN = 100, 100, 3


def lattice() -> DAG:
    with DAG("lattice") as dag:
        layers = [
            [
                EmptyOperator(task_id=f"t{layer}_{i}", priority_weight=1 + (i % 7))
                for i in range(WIDTH)
            ]
            for layer in range(LAYERS)
        ]
        for upper, lower in pairwise(layers):
            for i, op in enumerate(upper):
                for k in range(FAN):
                    op >> lower[(i + k * 37) % WIDTH]
    return dag


def main() -> None:
    dag = lattice()
    samples = []
    for _ in range(5):
        dag.invalidate()
        started = time.perf_counter()
        spec = dag.spec  # topological order, cycle check and every priority total
        samples.append(time.perf_counter() - started)
    top = max(t.priority_weight_total for t in spec.tasks.values())
    order = list(spec.tasks)
    upstream = {t: spec.tasks[t].upstream for t in order}
    downstream = {t: spec.tasks[t].downstream for t in order}
    weights = {t: spec.tasks[t].priority_weight for t in order}
    pure = []
    for rule in (WeightRule.DOWNSTREAM, WeightRule.UPSTREAM):
        rules = dict.fromkeys(order, rule)
        started = time.perf_counter()
        priority_weight_totals(order, upstream, downstream, weights, rules)
        pure.append((rule, time.perf_counter() - started))
    print(
        f"{len(spec.tasks)} tasks, {LAYERS * WIDTH * FAN - WIDTH * FAN} edges: "
        f"all priority totals in {statistics.median(samples) * 1000:.1f} ms "
        f"(whole DagSpec build, median of 5; largest total {top})"
    )
    for rule, seconds in pure:
        print(f"  priority_weight_totals alone, weight_rule={rule}: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
