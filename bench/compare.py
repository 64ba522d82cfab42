"""Run the headline benchmarks in one go and print one table of their figures.

  .venv/bin/python bench/compare.py                 # SQLite; fresh process and process reuse
  .venv/bin/python bench/compare.py --pg --celery   # also PostgreSQL and Celery (1 worker)

Each figure comes from one of the other scripts here, run as its own process
(so a cold start stays cold); this only collects their lines, beside issue 13's
goal for each. Two rows are not taskkit's figures but this machine's floor for
goal 1 (`bench_executor.py`): a bare fork through the zygote's Forker, and the
Local executor alone with no scheduler and no database; when those stay under
1,000/s, no scheduler can reach it. The load average before each one is shown
because this machine is shared: wall-clock figures move with it, CPU per task
much less.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("TASKKIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def run(args: list[str]) -> str:
    """The output of one benchmark script (this interpreter, bench/ as the working directory)."""
    done = subprocess.run(
        [sys.executable, *args], cwd=HERE, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    return done.stdout


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else "?"


#: benchmark, figure, issue 13's goal for it ("" if none), load average before it.
Row = tuple[str, str, str, str]


def scheduler_rows(label: str, extra: list[str], goals: tuple[str, str]) -> list[Row]:
    """The fan-out and chain rows of one `bench_scheduler.py` run; `goals`: fan-out, hop."""
    at = load()
    out = run(["bench_scheduler.py", "--length", "200", *extra])
    rate = find(r"(\d+) tasks/s", out)
    cpu = find(r"CPU per task: (scheduler [\d.]+ ms, zygote and tries [\d.]+ ms)", out)
    running = find(r"running scheduler: .*?, (\d+ tasks/s) \(", out)
    from_start = find(r"running scheduler: .*?from the run's start, (\d+ tasks/s)\)", out)
    hop = find(r"hop latency (median [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms)", out)
    fan_goal, hop_goal = goals
    return [
        (f"{label}: 1,000-task fan-out", f"{rate} tasks/s ({cpu} CPU per task)", fan_goal, at),
        (
            f"{label}: same, on a running scheduler",
            f"{running} trigger to success, {from_start} from the run's start",
            fan_goal,
            at,
        ),
        (f"{label}: 200-task chain, hop", hop, hop_goal, at),
    ]


def floor_rows() -> list[Row]:
    """What this machine allows a fresh process per try, before any scheduler (goal 1's bound)."""
    at = load()
    out = run(["bench_executor.py"])
    forker = find(r"zygote's Forker: (\d+/s; CPU per fork: [^;]+)", out)
    alone = find(r"LocalExecutor alone, no-op tries, 16 at a time: (\d+ tries/s; CPU[^;]+)", out)
    bound = "bounds goal 1"
    return [
        ("floor: fork+exit through the zygote's Forker", forker, bound, at),
        ("floor: Local executor alone, no scheduler", alone, bound, at),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="also PostgreSQL (TASKKIT_TEST_PG_URL)")
    parser.add_argument("--celery", action="store_true", help="also Celery, 1 worker, Redis")
    parser.add_argument("--rss", action="store_true", help="also the 10,000-task RSS run")
    args = parser.parse_args()

    hop_goal = "2: median < 2 ms, p99 < 5 ms"
    rows: list[Row] = []
    rows += scheduler_rows("Local, SQLite", [], ("1: >= 1,000 tasks/s", hop_goal))
    rows += floor_rows()
    reuse = ["--reuse", "1000"]
    reuse_goals = ("3: >= 3,000 tasks/s", "")
    rows += scheduler_rows("Local, SQLite, reuse_processes=1000", reuse, reuse_goals)
    if args.pg:
        rows += scheduler_rows("Local, PostgreSQL", ["--url", PG_URL], ("1: >= 800 tasks/s", ""))
    at = load()
    cold = find(r"cpu ([\d.]+ \[[\d.-]+\])", run(["bench_dag_test_cold.py", "--rounds", "5"]))
    cold_goal = "5: <= 0.1 ms per hop"
    rows.append(("DAG.test(), 100-task chain, first call", f"{cold} ms CPU per hop", cold_goal, at))
    at = load()
    warm = run(["bench_dag_test.py"])
    fan = find(r"\[cpu\] 500-task fan-out: ([\d.]+) ms", warm)
    hop = find(r"\[cpu\].*chain: ([\d.]+) ms", warm)
    rows.append(("DAG.test(), warm", f"{fan} ms/task (fan-out), {hop} ms/hop (chain)", "", at))
    if args.rss:
        at = load()
        out = run(["bench_scheduler.py", "--rss"])
        rss = find(r"peak RSS (\d+ MB)", out)
        rows.append(("scheduler RSS, 10,000-task run", rss, "", at))
    if args.celery:
        celery_goal = "4: >= 500 tries/s"
        at = load()
        out = run(["bench_celery.py", "--url", PG_URL, "--workers", "1"])
        rows.append(("Celery, Redis, 1 worker", find(r"(\d+ tries/s)", out), celery_goal, at))
        at = load()
        reusing = ["--tries-per-message", "8", "--reuse", "1000"]
        out = run(["bench_celery.py", "--url", PG_URL, "--workers", "1", *reusing])
        label = "Celery, Redis, 1 worker, 8 tries/message, reuse_processes=1000"
        rows.append((label, find(r"(\d+ tries/s)", out), celery_goal, at))
        running = find(r"on a running scheduler: (\d+ tries/s) trigger to success", out)
        rows.append(("same, on a running scheduler", running, celery_goal, at))

    headers = ("benchmark", "figure", "issue 13 goal", "load before")
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(3)]
    for *cells, at in (headers, *rows):
        print("  ".join(f"{cell:<{w}}" for cell, w in zip(cells, widths, strict=True)) + f"  {at}")


if __name__ == "__main__":
    main()
