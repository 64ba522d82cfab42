"""What bounds the Local executor: fork() cost here, and executor throughput on its own.

  .venv/bin/python bench/bench_executor.py

(1) fork + exit + waitpid of this interpreter, bare and after importing what
the zygote imports: the rate, CPU per fork in parent and child, the child's
page faults; (2) no-op tries through a LocalExecutor fed directly (no
scheduler, no database), 16 at a time: tries/s, CPU per try of this process,
the zygote and the try processes, page faults per try (`--only-executor`
skips (1)). The module imports nothing beyond the standard library before (1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

DAG_SOURCE = """
from taskkit import DAG, task

@task
def noop():
    return None

with DAG("bench_executor") as dag:
    noop()
"""


def fork_floor(n: int = 1000, fork: Any = os.fork) -> str:
    """fork, os._exit(0) in the child, waitpid: the rate, and CPU and faults per fork.

    The heap is frozen and the collector off, as in the zygote. The child runs
    no line of its own: what it costs is fork's own work plus, with os.fork,
    CPython's at-fork hooks (threading's and logging's, once they are imported),
    which the zygote's Forker leaves out while it has one thread.
    """
    gc.freeze()
    gc.disable()
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    started = time.perf_counter()
    for _ in range(n):
        pid = fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    rate = n / (time.perf_counter() - started)
    me2, kids2 = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    gc.enable()
    parent = (me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime) * 1000 / n
    child = (kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime) * 1000 / n
    faults = (kids2.ru_minflt - kids.ru_minflt) / n
    return (
        f"{rate:.0f}/s; CPU per fork: parent {parent:.2f} ms, child {child:.2f} ms; "
        f"page faults per child {faults:.0f}; {len(sys.modules)} modules"
    )


def _proc_stat(pid: int) -> tuple[float, float, int, int]:
    """CPU seconds and minor page faults of a live process, then of its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    return own, children, int(fields[7]), int(fields[8])


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ExecutorFigures(NamedTuple):
    """Tries per second; CPU ms per try of this process, the zygote, the try processes; faults."""

    rate: float
    executor_ms: float
    zygote_ms: float
    tries_ms: float
    zygote_faults: float
    try_faults: float


def executor_rate(n: int = 1000, concurrency: int = 16) -> ExecutorFigures:
    """No-op tries through a LocalExecutor fed directly; CPU and faults of the tries measured."""
    from taskkit import serde
    from taskkit.execution.base import DagPayload, TryFinished
    from taskkit.execution.local import LocalExecutor

    folder = Path(tempfile.mkdtemp(prefix="taskkit-bench-executor-"))
    path = folder / "bench_dag.py"
    path.write_text(DAG_SOURCE)
    spec = importlib.util.spec_from_file_location("bench_executor_dag", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    payload = serde.dumps_dag(module.dag)
    key = os.urandom(32)
    dag_payload = DagPayload(1, payload, serde.sign(payload, key))
    executor = LocalExecutor(concurrency, key)
    executor.start()
    assert executor._process is not None
    zygote = executor._process.pid
    warm = 0
    while warm < 2 * concurrency:  # forks the zygote's first tries and loads the DAG
        executor.submit(_noop(folder, 0), dag_payload)
        warm += sum(isinstance(e, TryFinished) for e in executor.poll(1.0))
        while executor.running():
            warm += sum(isinstance(e, TryFinished) for e in executor.poll(1.0))
    before = _proc_stat(zygote)
    self_before = _self_cpu()
    sent = done = 0
    started = time.perf_counter()
    while done < n:
        while sent < n and sent - done < concurrency:
            sent += 1
            executor.submit(_noop(folder, sent), dag_payload)
        done += sum(isinstance(e, TryFinished) for e in executor.poll(1.0))
    rate = n / (time.perf_counter() - started)
    self_cpu = _self_cpu() - self_before
    after = _proc_stat(zygote)
    executor.shutdown(1.0)
    delta = [(a - b) / n for a, b in zip(after, before, strict=True)]
    return ExecutorFigures(
        rate, 1000 * self_cpu / n, 1000 * delta[0], 1000 * delta[1], delta[2], delta[3]
    )


def _noop(folder: Path, number: int) -> Any:
    from taskkit.execution.workload import Workload
    from taskkit.model.keys import TaskInstanceKey

    return Workload(
        TaskInstanceKey("bench_executor", "r", "noop"),
        number + 1,
        1,
        1,
        dt.datetime.now(dt.timezone.utc),
        {},
        "manual",
        str(folder / "r" / f"t{number}" / "1.log"),  # a folder per task, as in a run
    )


def main() -> None:
    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=1000)
    parser.add_argument("--only-executor", action="store_true", help="skip the fork() figures")
    args = parser.parse_args()
    if not args.only_executor:
        print(f"fork+exit+waitpid, this script before taskkit ({rss():.0f} MB): {fork_floor()}")
        for module in ("taskkit.execution.worker", "taskkit.serde"):  # what the zygote holds
            importlib.import_module(module)
        print(f"fork+exit+waitpid, zygote's imports ({rss():.0f} MB): {fork_floor()}")
        from taskkit.execution.forking import Forker

        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in the zygote
        forker = Forker.watch()
        how = "the zygote's Forker" if forker.lean else "os.fork (one thread?)"
        print(f"fork+exit+waitpid, zygote's imports, {how}: {fork_floor(fork=forker.fork)}")
        signal.signal(signal.SIGINT, interrupt)
    got = executor_rate(args.tries)
    print(
        f"LocalExecutor alone, no-op tries, 16 at a time: {got.rate:.0f} tries/s; CPU per try: "
        f"executor {got.executor_ms:.2f} ms, zygote {got.zygote_ms:.2f} ms, try processes "
        f"{got.tries_ms:.2f} ms; page faults per try: zygote {got.zygote_faults:.0f}, "
        f"try process {got.try_faults:.0f}"
    )


if __name__ == "__main__":
    main()
