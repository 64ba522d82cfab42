"""Where a chain hop's time goes: the scheduler with the Local executor, SQLite.

Run: .venv/bin/python bench/bench_hop.py [--length 300] [--reuse N]

A hop is the time from one task's end to the next task's start, as the tasks
record them (what bench_scheduler.py's chain measures). This script runs the
same chain with the scheduler in this process and stamps, through wrappers
around two LocalExecutor methods, when the executor read each finished try's
result and when it handed the next workload on. Each hop splits into:

- end to result read: the try's last steps (its result, its log's last line),
  the datagram, and whatever the scheduler was busy with when it came;
- result read to workload sent: the scheduler's decision and its commit;
- workload sent to start: the zygote handing the workload to its pre-forked
  spare (or forking), and the try's set-up up to the task's first line.

The wrappers add a few microseconds to the middle segment. Medians and p90s in ms.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import statistics
import time
from typing import Any

import structlog
from bench_scheduler import prepare, run_scheduler, trigger

from taskkit.execution import local
from taskkit.execution.base import TryFinished


def stamp_executor() -> tuple[list[float], list[float]]:
    """Wrap the executor: (when a finished result was read, when a workload was sent)."""
    reads: list[float] = []
    sends: list[float] = []
    read_results = local.LocalExecutor._read_results
    send_waiting = local.LocalExecutor._send_waiting

    def stamped_read(self: Any, events: list[Any]) -> None:
        before = len(events)
        read_results(self, events)
        if any(isinstance(e, TryFinished) for e in events[before:]):
            reads.append(time.time())

    def stamped_send(self: Any) -> Any:
        before = self._seq
        failed = send_waiting(self)
        if self._seq != before:
            sends.append(time.time())
        return failed

    local.LocalExecutor._read_results = stamped_read  # type: ignore[method-assign]
    local.LocalExecutor._send_waiting = stamped_send  # type: ignore[method-assign]
    return reads, sends


def describe(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"{label:<28} median {statistics.median(ordered):5.2f} "
        f"p90 {ordered[int(len(ordered) * 0.9)]:5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--reuse", type=int, default=0, help="[local] reuse_processes")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    reads, sends = stamp_executor()
    settings, record = prepare(None, 2, args.length, 1, args.reuse)
    trigger(settings, "chain")
    run_scheduler(settings)
    stamps = [line.split() for line in record.read_text().splitlines()]
    starts = [float(v) for k, v in stamps if k == "start"]
    ends = [float(v) for k, v in stamps if k == "end"]
    segments: dict[str, list[float]] = {
        "hop": [],
        "end to result read": [],
        "result read to sent": [],
        "sent to start": [],
    }
    for end, start in zip(ends[:-1], starts[1:], strict=True):
        read_at = bisect.bisect(reads, end)
        sent_at = bisect.bisect(sends, reads[read_at]) if read_at < len(reads) else len(sends)
        if sent_at >= len(sends) or sends[sent_at] > start:
            continue  # not matched (the stamps of another try interleaved)
        read, sent = reads[read_at], sends[sent_at]
        for label, ms in zip(
            segments,
            ((start - end), (read - end), (sent - read), (start - sent)),
            strict=True,
        ):
            segments[label].append(ms * 1000)
    print(f"chain of {args.length}, SQLite, reuse_processes={args.reuse}: {len(ends) - 1} hops")
    for label, values in segments.items():
        print(describe(label, values))


if __name__ == "__main__":
    main()
