"""A try's log file under logs/<dag_id>/<run_id>/<task_id>/<try>.log.

The try's own process opens it and points its stdout and stderr at it, so
output goes to the file without passing through any other process (and a
log that cannot be opened fails that try alone). Around the output, taskkit
writes event lines in structlog's JSON shape (event, level, timestamp and the
bound keys dag_id, run_id, task_id, try_number): `try_started` first, and a
`try_finished` line with the outcome and reason last, written by the try
itself or, when it died without reporting, by the executor. Lines are
rendered with json.dumps directly: importing structlog (and the rich it pulls
in when installed) would triple the forking process's memory, and fork()
slows down with every megabyte. Folders are 0700 and files 0600.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

#: Event lines taskkit writes; any other line is the try's own output.
EVENTS = frozenset({"try_started", "try_finished", "try_rejected", "output"})


def log_path(logs_folder: Path, dag_id: str, run_id: str, task_id: str, try_number: int) -> Path:
    """Where the log of one try lives."""
    return logs_folder / dag_id / run_id / task_id / f"{try_number}.log"


def open_log(path: str) -> int:
    """An O_APPEND descriptor on the log at `path`, creating private folders as needed.

    Raises OSError (too long a name, a folder that is a file, no permission).
    """
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC  # read: see write_event
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(path, flags, 0o600)


def event_line(bound: dict[str, Any], level: str, event: str, **values: Any) -> bytes:
    """One JSON event line (with its newline)."""
    line = {
        **bound,
        **values,
        "event": event,
        "level": level,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    return (json.dumps(line) + "\n").encode()


def bound_keys(dag_id: str, run_id: str, task_id: str, try_number: int) -> dict[str, Any]:
    """The keys every event line of one try carries."""
    return {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "try_number": try_number}


def finished_line(
    bound: dict[str, Any], outcome: str, duration_s: float, error: str | None
) -> bytes:
    """The `try_finished` event line."""
    return event_line(
        bound,
        "info" if outcome != "failed" else "error",
        "try_finished",
        outcome=outcome,
        duration_s=round(duration_s, 6),
        error=error,
    )


def write_event(fd: int, line: bytes) -> None:
    """Append an event line, on a line of its own even if the output ended mid-line."""
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        line = b"\n" + line
    view = memoryview(line)
    while view:
        view = view[os.write(fd, view) :]


def append_event(path: str, line: bytes) -> None:
    """Open the log at `path`, append `line`, close; for a try that could not write it itself."""
    fd = open_log(path)
    try:
        write_event(fd, line)
    finally:
        os.close(fd)


def write_rejection(path: Path, reason: str, at: dt.datetime) -> None:
    """The whole log of a try that could never start (no such pool, or too small)."""
    line = {"event": "try_rejected", "level": "error", "timestamp": at.isoformat(), "error": reason}
    append_event(str(path), (json.dumps(line) + "\n").encode())


def format_log(path: Path) -> str:
    """The log as text a person reads: output lines as they were, events as one line each."""
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        event = _event(raw)
        if event is None:
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


def _event(raw: str) -> dict[str, Any] | None:
    """The event a line holds, or None for a line of the try's own output."""
    if not raw.startswith("{"):
        return None
    try:
        event = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if isinstance(event, dict) and event.get("event") in EVENTS:
        return event
    return None
