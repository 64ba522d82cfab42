"""Benchmark what one fork and exit cost a process holding a DAG of N tasks, as the zygote does.

  .venv/bin/python bench/bench_fork.py 0 1000 100000

For each N: parse a DAG file of N no-op `@task`s, unpickle its payload as the zygote does
(with what the zygote imports loaded, then `gc.freeze()`), and time 200 fork+exit of a child
that runs nothing (CPU of parent and children, and wall time, per fork). Each N runs in a
fresh interpreter, so one DAG's memory does not weigh on the next.
"""

from __future__ import annotations

import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORKS = 200


def _rss_mb() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) // 1024


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(n: int) -> None:
    from taskkit.execution.worker import hold_dag  # with what the zygote imports

    held = None
    if n:
        # Parsed in another interpreter, so only the unpickled DAG is held here, as in the
        # zygote (the parse's leftovers would double the resident memory).
        folder = Path(tempfile.mkdtemp(prefix="taskkit-bench-"))
        subprocess.run([sys.executable, __file__, "--parse", str(folder), str(n)], check=True)
        held = hold_dag((folder / "payload").read_bytes())  # as the zygote holds it
    gc.collect()
    gc.freeze()
    cpu, wall = _cpu(), time.perf_counter()
    for _ in range(FORKS):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    print(
        f"{n:,}-task DAG held, RSS {_rss_mb()} MB: fork+exit {cpu * 1000 / FORKS:.2f} ms CPU, "
        f"{wall * 1000 / FORKS:.2f} ms wall",
        flush=True,
    )
    del held


def parse(folder: Path, n: int) -> None:
    """Write bench_scheduler's n-task fan-out to `folder`/huge.py, its payload to `folder`/payload
    (here, not in the measuring process, which must hold nothing but what the zygote holds)."""
    from bench_scheduler import HUGE_DAG_FILE  # same directory: run as a script

    from taskkit.scheduling.dag_processor import parse_file

    (folder / "huge.py").write_text(HUGE_DAG_FILE.format(huge=n))
    (parsed,) = parse_file(folder / "huge.py").dags
    (folder / "payload").write_bytes(parsed.payload)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        measure(int(sys.argv[2]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--parse":
        parse(Path(sys.argv[2]), int(sys.argv[3]))
        return
    for n in sys.argv[1:] or ["0", "1000", "100000"]:
        subprocess.run([sys.executable, __file__, "--one", n], check=True)


if __name__ == "__main__":
    main()
