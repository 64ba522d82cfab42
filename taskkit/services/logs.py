"""Task logs: finding a try's file and reading it in pieces, never whole.

A log may be tens of megabytes; the UI asks for the tail, then earlier or
newer pieces by byte offset, so neither the server nor the page ever holds
the whole file. Offsets always fall on line starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from taskkit.errors import NotFoundError
from taskkit.execution.tasklog import format_line, log_path


def format_log_lines(text: str) -> str:
    """Lines of a log file as a person reads them (tasklog.format_line on each)."""
    return "".join(format_line(raw) + "\n" for raw in text.splitlines())


#: The most one piece of a log holds.
MAX_CHUNK = 256 * 1024


def find_log(
    folder: Path,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int | None,
    *,
    map_index: int = -1,
) -> Path:
    """The log file of a try (the latest one when `try_number` is None), or NotFoundError."""
    task_dir = log_path(folder, dag_id, run_id, task_id, 1, map_index=map_index).parent
    tries = sorted(int(p.stem) for p in task_dir.glob("*.log") if p.stem.isdigit())
    instance = f"[{map_index}]" if map_index >= 0 else ""
    what = f"task {task_id!r}{instance} of run {run_id!r} of DAG {dag_id!r}"
    if not tries:
        raise NotFoundError(f"No logs for {what} in {task_dir}: it has not started a try yet.")
    if try_number is None:
        try_number = tries[-1]
    if try_number not in tries:
        raise NotFoundError(
            f"No log of try {try_number} for {what}; tries with logs: {', '.join(map(str, tries))}."
        )
    return log_path(folder, dag_id, run_id, task_id, try_number, map_index=map_index)


def tries_with_logs(
    folder: Path, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1
) -> list[int]:
    """The try numbers that have a log file, in order."""
    task_dir = log_path(folder, dag_id, run_id, task_id, 1, map_index=map_index).parent
    return sorted(int(p.stem) for p in task_dir.glob("*.log") if p.stem.isdigit())


@attrs.frozen
class LogChunk:
    """Formatted lines of a log between two byte offsets of its file."""

    text: str
    start: int
    end: int
    size: int

    @property
    def at_start(self) -> bool:
        """True if nothing comes before this piece."""
        return self.start == 0


def read_chunk(path: Path, *, start: int | None = None, limit: int = MAX_CHUNK) -> LogChunk:
    """Up to `limit` bytes of whole lines from `start`, or the last `limit` bytes when None.

    Only complete lines are returned, so following a growing log by asking
    again from `end` never splits a line.
    """
    limit = max(1, min(limit, MAX_CHUNK))
    with path.open("rb") as file:
        size = file.seek(0, 2)
        if start is None:
            start = max(0, size - limit)
            if start:
                file.seek(start - 1)
                # start on the line after the one the cut falls in
                start += len(file.readline()) - 1
        start = max(0, min(start, size))
        file.seek(start)
        data = file.read(limit)
    cut = data.rfind(b"\n") + 1
    if cut == 0 and len(data) == limit:
        cut = len(data)  # one line longer than a chunk: give it in pieces
    data = data[:cut]
    return LogChunk(format_log_lines(data.decode("utf-8", "replace")), start, start + cut, size)


def read_chunk_before(path: Path, end: int, *, limit: int = MAX_CHUNK) -> LogChunk:
    """Up to `limit` bytes of whole lines that end at `end` (for "load earlier")."""
    limit = max(1, min(limit, MAX_CHUNK))
    end = max(0, end)
    with path.open("rb") as file:
        size = file.seek(0, 2)
        end = min(end, size)
        start = max(0, end - limit)
        file.seek(start)
        data = file.read(end - start)
    if start:
        first = data.find(b"\n") + 1
        if 0 < first < len(data):
            data, start = data[first:], start + first
    return LogChunk(format_log_lines(data.decode("utf-8", "replace")), start, end, size)


def stream_formatted(path: Path, *, block: int = MAX_CHUNK) -> Iterator[bytes]:
    """The whole log as readable text, piece by piece (for downloads)."""
    offset = 0
    while True:
        chunk = read_chunk(path, start=offset, limit=block)
        if chunk.end == chunk.start:
            return
        yield chunk.text.encode("utf-8")
        offset = chunk.end


@attrs.frozen
class TrySpan:
    """When one try ran and how it ended, read from its log's first and last lines."""

    try_number: int
    started: str | None
    ended: str | None
    outcome: str | None


def try_spans(
    folder: Path, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1
) -> list[TrySpan]:
    """Every try with a log, for the Gantt's earlier tries (reads two lines per file)."""
    spans = []
    for number in tries_with_logs(folder, dag_id, run_id, task_id, map_index=map_index):
        path = log_path(folder, dag_id, run_id, task_id, number, map_index=map_index)
        with path.open("rb") as file:
            first = _event(file.readline())
            size = file.seek(0, 2)
            file.seek(max(0, size - 8192))
            tail = file.read().splitlines()
        last = _event(tail[-1]) if tail else {}
        finished = last.get("event") in {"try_finished", "try_rejected"}
        spans.append(
            TrySpan(
                number,
                first.get("timestamp"),
                last.get("timestamp") if finished else None,
                (last.get("outcome") or "failed") if finished else None,
            )
        )
    return spans


def _event(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
