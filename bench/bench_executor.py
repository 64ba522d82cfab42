"""What bounds the Local executor: fork() cost here, and executor throughput on its own.

  .venv/bin/python bench/bench_executor.py

(1) fork + exit + waitpid of this interpreter, bare and after importing what
the zygote imports; (2) no-op tries through a LocalExecutor fed directly (no
scheduler, no database), 16 at a time.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

DAG_SOURCE = """
from taskkit import DAG, task

@task
def noop():
    return None

with DAG("bench_executor") as dag:
    noop()
"""


def fork_rate(n: int = 300) -> float:
    started = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    return n / (time.perf_counter() - started)


def executor_rate(n: int = 1000, concurrency: int = 16) -> float:
    from taskkit import serde
    from taskkit.execution.base import DagPayload, TryFinished
    from taskkit.execution.local import LocalExecutor
    from taskkit.execution.workload import Workload
    from taskkit.model.keys import TaskInstanceKey

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
    sent = done = 0
    started = time.perf_counter()
    while done < n:
        while sent < n and sent - done < concurrency:
            sent += 1
            workload = Workload(
                TaskInstanceKey("bench_executor", "r", "noop"),
                sent,
                1,
                1,
                dt.datetime.now(dt.timezone.utc),
                {},
                "manual",
                str(folder / f"{sent}.log"),
            )
            executor.submit(workload, dag_payload)
        done += sum(isinstance(e, TryFinished) for e in executor.poll(1.0))
    rate = n / (time.perf_counter() - started)
    executor.shutdown(1.0)
    return rate


def main() -> None:
    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"fork+exit+waitpid, bare interpreter ({rss():.0f} MB): {fork_rate():.0f}/s")
    for module in ("taskkit.execution.worker", "taskkit.serde"):  # what the zygote holds
        importlib.import_module(module)

    print(f"fork+exit+waitpid, zygote's imports ({rss():.0f} MB): {fork_rate():.0f}/s")
    print(f"LocalExecutor alone, no-op tries, 16 at a time: {executor_rate():.0f} tries/s")


if __name__ == "__main__":
    main()
