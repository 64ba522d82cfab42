"""A try's log file: JSON lines under logs/<dag_id>/<run_id>/<task_id>/<try>.log.

The zygote writes it, not the task: output is read from the child's pipes
line by line, so even a try that segfaults or is killed leaves a complete log
ending in a `try_finished` line with the reason.

The lines have structlog's JSON shape (event, level, timestamp and the bound
keys dag_id, run_id, task_id, try_number) but are rendered with json.dumps
directly: importing structlog (and the rich it pulls in when installed) would
triple the zygote's memory, and fork() slows down with every megabyte.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskkit.execution.base import Workload
    from taskkit.model.results import TryResult

_MAX_LINE = 64 * 1024


def log_path(
    logs_folder: Path,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    *,
    map_index: int = -1,
) -> Path:
    """Where the log of one try lives (a mapped instance's under map_index=<i>/)."""
    folder = logs_folder / dag_id / run_id / task_id
    if map_index >= 0:
        folder = folder / f"map_index={map_index}"
    return folder / f"{try_number}.log"


class TryLog:
    """Structured writer for one try's log file."""

    def __init__(self, file: IO[str], bound: dict[str, Any]) -> None:
        self.file = file
        self.bound = bound
        self.partial: dict[str, bytes] = {}

    def _emit(self, level: str, event: str, **values: Any) -> None:
        line = {
            **self.bound,
            **values,
            "event": event,
            "level": level,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        }
        self.file.write(json.dumps(line) + "\n")

    @classmethod
    def open(cls, workload: Workload) -> TryLog:
        path = Path(workload.log_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        file = path.open("a", encoding="utf-8")
        key = workload.key
        bound = {
            "dag_id": key.dag_id,
            "run_id": key.run_id,
            "task_id": key.task_id,
            "map_index": key.map_index,
            "try_number": workload.try_number,
        }
        return cls(file, bound)

    def started(self, pid: int, hostname: str) -> None:
        self._emit("info", "try_started", pid=pid, hostname=hostname)

    def output(self, stream: str, data: bytes) -> None:
        """Log every complete line of `data`; keep a trailing partial line for later."""
        data = self.partial.pop(stream, b"") + data
        *lines, rest = data.split(b"\n")
        if len(rest) > _MAX_LINE:
            lines.append(rest)
            rest = b""
        if rest:
            self.partial[stream] = rest
        level = "info" if stream == "stdout" else "warning"
        for line in lines:
            self._emit(level, "output", stream=stream, line=line.decode("utf-8", "replace"))

    def finished(self, result: TryResult) -> None:
        for stream, rest in self.partial.items():
            self._emit("info", "output", stream=stream, line=rest.decode("utf-8", "replace"))
        self.partial.clear()
        outcome = result.outcome.value
        self._emit(
            "info" if outcome != "failed" else "error",
            "try_finished",
            outcome=outcome,
            duration_s=round(result.duration_s, 6),
            error=result.error,
        )
        self.file.flush()
        self.file.close()


def write_rejection(path: Path, reason: str, at: dt.datetime) -> None:
    """The whole log of a try that could never start (no such pool, or too small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"event": "try_rejected", "level": "error", "timestamp": at.isoformat(), "error": reason}
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def format_log(path: Path) -> str:
    """The log as text a person reads: output lines as they were, events as one line each."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            lines.append(raw)
            continue
        if event.get("event") == "output":
            lines.append(event.get("line", ""))
            continue
        extras = " ".join(
            f"{k}={v}"
            for k, v in event.items()
            if k not in {"event", "timestamp", "level", "dag_id", "run_id", "task_id"}
            and v is not None
        )
        lines.append(f"[{event.get('timestamp', '')}] {event.get('event')} {extras}".rstrip())
    return "\n".join(lines) + ("\n" if lines else "")
