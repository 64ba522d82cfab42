"""Benchmark `import taskkit`: wall time in fresh interpreters, plus the -X importtime top entries.

Run: .venv/bin/python bench/bench_import.py
By hand:
    .venv/bin/python -X importtime -c "import taskkit" 2>&1 | sort -t'|' -k2 -n | tail
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def main() -> None:
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import taskkit"], check=True)
        samples.append(time.perf_counter() - started)
    baseline = []
    for _ in range(10):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - started)
    total = statistics.median(samples) * 1000
    bare = statistics.median(baseline) * 1000
    print(
        f"python -c 'import taskkit': {total:.1f} ms; bare interpreter {bare:.1f} ms; "
        f"import cost ~{total - bare:.1f} ms"
    )
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import taskkit"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.splitlines()
    for line in trace:
        if line.rstrip().endswith(" taskkit"):
            cumulative_us = int(line.split("|")[1])
            print(f"-X importtime cumulative for taskkit: {cumulative_us / 1000:.1f} ms")


if __name__ == "__main__":
    main()
