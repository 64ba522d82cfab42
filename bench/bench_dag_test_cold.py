"""Benchmark a cold DAG.test(): a fresh process's first call on a 100-task chain, imports included.

Run: .venv/bin/python bench/bench_dag_test_cold.py [--rounds 15] [--tree PATH ...]

Each sample is a new interpreter that imports taskkit, builds the chain and
times its first DAG.test(): what that call imports is part of its cost.
Several `--tree`s (source checkouts, e.g. `git archive main taskkit | tar -x
-C /tmp/main`) are measured in alternation, so a busy machine weighs on each
alike; the first tree is the reference for the ratios. Bytecode is compiled
first (a cold start is a fresh process, not a fresh install). Process CPU
time is the figure to compare; wall time also shows what else the machine did.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = 100

CHILD = f"""
import time
started_cpu, started_wall = time.process_time(), time.perf_counter()
import sys
import datetime as dt
from taskkit import DAG, chain, task

@task
def noop():
    return None

with DAG("cold", start_date=dt.datetime(2026, 1, 1)) as dag:
    chain(*[noop() for _ in range({TASKS})])
modules = len(sys.modules)
cpu, wall = time.process_time(), time.perf_counter()
result = dag.test()
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
assert result.state == "success", result.state
total = time.process_time() - started_cpu
print(cpu * 1000, wall * 1000, total * 1000, len(sys.modules) - modules)
"""


def sample(tree: Path) -> tuple[float, float, float, int]:
    """One fresh process: first-call CPU ms, wall ms, whole-process CPU ms, modules imported."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=tree,  # `-c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, wall, total, modules = done.stdout.split()
    return float(cpu), float(wall), float(total), int(modules)


def describe(values: list[float]) -> str:
    low, middle, high = (x / TASKS for x in (min(values), statistics.median(values), max(values)))
    return f"{middle:.4f} [{low:.4f}-{high:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tree", action="append", type=Path, help="default: this checkout")
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree or [ROOT]]
    for tree in trees:
        compileall.compile_dir(tree / "taskkit", quiet=1)
    samples: dict[Path, list[tuple[float, float, float, int]]] = {t: [] for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            samples[tree].append(sample(tree))
    reference = statistics.median(s[0] for s in samples[trees[0]])
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"cold DAG.test(), {TASKS}-task chain, first call, fresh process, {args.rounds} rounds")
    print(f"ms per hop: median [min-max]; load average {load}")
    for tree in trees:
        rows = samples[tree]
        cpu = [r[0] for r in rows]
        ratio = statistics.median(cpu) / reference
        print(
            f"{tree}: cpu {describe(cpu)}, wall {describe([r[1] for r in rows])}; "
            f"whole process cpu {statistics.median(r[2] for r in rows):.1f} ms; "
            f"modules imported by the call {rows[0][3]}; cpu x{ratio:.2f} of the first tree"
        )


if __name__ == "__main__":
    main()
