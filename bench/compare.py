"""Run the headline benchmarks in one go and print one table of their figures.

  .venv/bin/python bench/compare.py                 # SQLite; fresh process and process reuse
  .venv/bin/python bench/compare.py --pg --celery   # also PostgreSQL and Celery (1 worker)

Each figure comes from one of the other scripts here, run as its own process
(so a cold start stays cold); this only collects their lines. The load
average before each one is shown because this machine is shared: wall-clock
figures move with it, CPU per task much less.
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


def scheduler_rows(label: str, extra: list[str]) -> list[tuple[str, str, str]]:
    at = load()
    out = run(["bench_scheduler.py", "--length", "200", *extra])
    rate = find(r"(\d+) tasks/s", out)
    cpu = find(r"CPU per task: (scheduler [\d.]+ ms, zygote and tries [\d.]+ ms)", out)
    running = find(r"running scheduler: .*?, (\d+ tasks/s) \(", out)
    from_start = find(r"running scheduler: .*?from the run's start, (\d+ tasks/s)\)", out)
    hop = find(r"hop latency (median [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms)", out)
    return [
        (f"{label}: 1,000-task fan-out", f"{rate} tasks/s ({cpu} CPU per task)", at),
        (
            f"{label}: same, on a running scheduler",
            f"{running} trigger to success, {from_start} from the run's start",
            at,
        ),
        (f"{label}: 200-task chain, hop", hop, at),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="also PostgreSQL (TASKKIT_TEST_PG_URL)")
    parser.add_argument("--celery", action="store_true", help="also Celery, 1 worker, Redis")
    parser.add_argument("--rss", action="store_true", help="also the 10,000-task RSS run")
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    rows += scheduler_rows("Local, SQLite", [])
    rows += scheduler_rows("Local, SQLite, reuse_processes=1000", ["--reuse", "1000"])
    if args.pg:
        rows += scheduler_rows("Local, PostgreSQL", ["--url", PG_URL])
    at = load()
    cold = find(r"cpu ([\d.]+ \[[\d.-]+\])", run(["bench_dag_test_cold.py", "--rounds", "5"]))
    rows.append(("DAG.test(), 100-task chain, first call", f"{cold} ms CPU per hop", at))
    at = load()
    warm = run(["bench_dag_test.py"])
    fan = find(r"\[cpu\] 500-task fan-out: ([\d.]+) ms", warm)
    hop = find(r"\[cpu\].*chain: ([\d.]+) ms", warm)
    rows.append(("DAG.test(), warm", f"{fan} ms/task (fan-out), {hop} ms/hop (chain)", at))
    if args.rss:
        at = load()
        out = run(["bench_scheduler.py", "--rss"])
        rss = find(r"peak RSS (\d+ MB)", out)
        rows.append(("scheduler RSS, 10,000-task run", rss, at))
    if args.celery:
        at = load()
        out = run(["bench_celery.py", "--url", PG_URL, "--workers", "1"])
        rows.append(("Celery, Redis, 1 worker", find(r"(\d+ tries/s)", out), at))
        at = load()
        reusing = ["--tries-per-message", "8", "--reuse", "1000"]
        out = run(["bench_celery.py", "--url", PG_URL, "--workers", "1", *reusing])
        label = "Celery, Redis, 1 worker, 8 tries/message, reuse_processes=1000"
        rows.append((label, find(r"(\d+ tries/s)", out), at))
        running = find(r"on a running scheduler: (\d+ tries/s) trigger to success", out)
        rows.append(("same, on a running scheduler", running, at))

    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'benchmark':<{width}}  {'figure':<{value_width}}  load before")
    for name, value, at in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {at}")


if __name__ == "__main__":
    main()
