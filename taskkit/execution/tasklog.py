"""A try's log file under logs/<dag_id>/<run_id>/<task_id>/<try>.log.

Under the Local and Celery executors the try's own process opens it and
points its stdout and stderr at it, so output goes to the file without
passing through any other process (and a log that cannot be opened fails
that try alone). Around the output taskkit writes JSON event lines:
`try_started` first and `try_finished` with the outcome and reason last,
written by the try itself or, when it died without reporting, by the
executor; `cap_log` then applies the size cap below to the finished file.
`TryLog` writes the same shape with every output line as a JSON `output`
event, capping as it goes.

Logs may hold secrets a task printed: folders are 0700 and files 0600. A
try's log is capped at `logging.max_task_log_bytes`: the first half is kept
as written, the end goes to two rotating side files of a quarter each, and
when the try finishes the last of those is appended after a line saying how
much was cut, so a chatty task never fills the disk and its log still shows
how it started and how it ended.

The lines have structlog's JSON shape (event, level, timestamp and the bound
keys dag_id, run_id, task_id, try_number) but are rendered with json.dumps
directly: importing structlog (and the rich it pulls in when installed) would
triple the zygote's memory, and fork() slows down with every megabyte.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskkit.execution.workload import Workload
    from taskkit.model.results import TryResult

_MAX_LINE = 64 * 1024
#: logging.max_task_log_bytes's default: 100 MiB.
DEFAULT_MAX_LOG_BYTES = 100 * 1024 * 1024
#: The events that end a try's log (`tasks logs --follow` stops after one).
FINAL_EVENTS = frozenset({"try_finished", "try_rejected"})


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and any missing parents as 0700 (mkdir's mode covers only the leaf)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another try created it meanwhile
            each.mkdir(mode=0o700)


def open_private(path: Path) -> IO[str]:
    """Open a log file for appending, created 0600 in 0700 folders."""
    make_private_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


#: Event lines taskkit writes; any other line is a try's own output.
EVENTS = frozenset({"try_started", "try_finished", "try_rejected", "output", "log_truncated"})


def open_log(path: str) -> int:
    """An O_APPEND descriptor on the log at `path` (0600, in 0700 folders made as needed).

    Raises OSError (too long a name, a folder that is a file, no permission).
    It is opened for reading too, so `write_event` can look at the last byte.
    """
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    folder = path.rpartition("/")[0]  # not os.path.dirname: posixpath costs faults too
    # A first try's log is the first file of its task's own folder, whose run folder exists:
    # one mkdir makes it. Opening first and building Paths on FileNotFoundError cost a forked
    # try ~100 page faults (~0.4 ms) more, on every first try of a task.
    try:
        os.mkdir(folder, 0o700)  # noqa: PTH102 - no pathlib on a try's hot path
    except FileExistsError:
        pass
    except FileNotFoundError:
        make_private_dirs(Path(folder))
    return os.open(path, flags, 0o600)


def bound_keys(
    dag_id: str, run_id: str, task_id: str, try_number: int, *, map_index: int = -1
) -> dict[str, Any]:
    """The keys every event line of one try carries (map_index for a mapped task's instance)."""
    bound: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "try_number": try_number,
    }
    if map_index >= 0:
        bound["map_index"] = map_index
    return bound


def event_line(bound: dict[str, Any], level: str, event: str, **values: Any) -> bytes:
    """One JSON event line (with its newline), as json.dumps writes it.

    Its values are flat (strings, numbers, None), so each is encoded by
    itself: json.dumps builds an encoder per call, and in a forked try its
    first call copies ~30 pages of the zygote's memory (~0.1 ms per try).
    """
    line = {
        **bound,
        **values,
        "event": event,
        "level": level,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    fields = [f"{_quote(name)}: {_json_value(value)}" for name, value in line.items()]
    return ("{" + ", ".join(fields) + "}\n").encode()


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return repr(value)  # what json.dumps writes for them (bools are not ints here)
    return json.dumps(value)  # booleans, NaN, anything else


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # json.dumps's own


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


def finish_log(fd: int, bound: dict[str, Any], max_bytes: int | None, line: bytes) -> None:
    """End a try's log: cap what it wrote, then append its `try_finished` line."""
    cap_log(fd, bound, max_bytes or DEFAULT_MAX_LOG_BYTES)
    write_event(fd, line)


def append_event(path: str, line: bytes) -> None:
    """Open the log at `path`, append `line`, close (a rejected try's whole log)."""
    fd = open_log(path)
    try:
        write_event(fd, line)
    finally:
        os.close(fd)


def cap_log(fd: int, bound: dict[str, Any], max_bytes: int) -> None:
    """Cut the middle of a log longer than `max_bytes`: keep its first half and last quarter.

    A try writes its output straight into the file, so the cap is applied
    when it ends: the file keeps the lines that fit in the first half, a
    `log_truncated` line saying how many bytes and lines went and which
    setting bounds them, and the lines of the last quarter.
    """
    size = os.fstat(fd).st_size
    if size <= max_bytes:
        return
    head = os.pread(fd, max_bytes // 2, 0)
    head = head[: head.rfind(b"\n") + 1]
    tail_start = size - max_bytes // 4
    tail = os.pread(fd, size - tail_start, tail_start)
    tail = tail[tail.find(b"\n") + 1 :]
    cut_from, cut_to = len(head), size - len(tail)
    cut_lines = 0
    for offset in range(cut_from, cut_to, 1 << 20):
        cut_lines += os.pread(fd, min(1 << 20, cut_to - offset), offset).count(b"\n")
    note = event_line(
        bound,
        "warning",
        "log_truncated",
        cut_bytes=cut_to - cut_from,
        cut_lines=cut_lines,
        limit=f"logging.max_task_log_bytes = {max_bytes}",
    )
    os.ftruncate(fd, cut_from)
    write_event(fd, note + tail)


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
    """Structured writer for one try's log file, capped at `max_bytes` (head and tail kept)."""

    def __init__(
        self,
        file: IO[str],
        bound: dict[str, Any],
        max_bytes: int = DEFAULT_MAX_LOG_BYTES,
        path: Path | None = None,
    ) -> None:
        self.file = file
        self.bound = bound
        self.partial: dict[str, bytes] = {}
        self.head_room = max_bytes // 2
        self.segment_size = max(max_bytes // 4, 1)
        self.max_bytes = max_bytes
        self.path = path  #: where side files go; without one, the end past the cap is dropped
        self.tail: IO[str] | None = None  # the side file being filled once the head is full
        self.tail_bytes = 0
        self.cut_bytes = 0  # bytes of rotated-away tail segments
        self.cut_lines = 0

    def _emit(self, level: str, event: str, **values: Any) -> None:
        line = {
            **self.bound,
            **values,
            "event": event,
            "level": level,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        }
        text = json.dumps(line) + "\n"
        if self.head_room >= len(text) and self.tail is None:
            self.file.write(text)
            self.head_room -= len(text)
        else:
            self._to_tail(text)

    def _to_tail(self, text: str) -> None:
        """Past the head: write to the current side file, rotating when it is full."""
        if self.path is None:  # not a real file (tests): drop, but count
            self.cut_bytes += len(text)
            self.cut_lines += 1
            return
        if self.tail is None or self.tail_bytes + len(text) > self.segment_size:
            self._rotate()
        assert self.tail is not None
        self.tail.write(text)
        self.tail_bytes += len(text)

    def _segment(self, n: int) -> Path:
        assert self.path is not None
        return self.path.with_name(f"{self.path.name}.tail{n}")

    def _rotate(self) -> None:
        if self.tail is not None:
            self.tail.close()
            older = self._segment(0)
            if older.exists():
                self.cut_bytes += older.stat().st_size
                self.cut_lines += _count_lines(older)
            self._segment(1).replace(older)
        self.tail = open_private(self._segment(1))
        self.tail.truncate(0)
        self.tail_bytes = 0

    def _close_tail(self) -> None:
        """Append the kept end of the log after a line saying what was cut from the middle."""
        if self.tail is None and not self.cut_bytes:
            return
        if self.tail is not None:
            self.tail.close()
            self.tail = None
        note = {
            **self.bound,
            "event": "log_truncated",
            "level": "warning",
            "cut_bytes": self.cut_bytes,
            "cut_lines": self.cut_lines,
            "limit": f"logging.max_task_log_bytes = {self.max_bytes}",
        }
        self.file.write(json.dumps(note) + "\n")
        if self.path is None:
            return
        for n in (0, 1):
            segment = self._segment(n)
            if segment.exists():
                with segment.open(encoding="utf-8") as kept:
                    for line in kept:
                        self.file.write(line)
                segment.unlink()

    @classmethod
    def open(cls, workload: Workload) -> TryLog:
        path = Path(workload.log_path)
        file = open_private(path)
        key = workload.key
        bound = bound_keys(
            key.dag_id, key.run_id, key.task_id, workload.try_number, map_index=key.map_index
        )
        limit = workload.max_log_bytes or DEFAULT_MAX_LOG_BYTES
        return cls(file, bound, limit, path)

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
        self._close_tail()
        outcome = result.outcome.value
        line = {
            **self.bound,
            "outcome": outcome,
            "duration_s": round(result.duration_s, 6),
            "error": result.error,
            "event": "try_finished",
            "level": "info" if outcome != "failed" else "error",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        }
        self.file.write(json.dumps(line) + "\n")  # always kept, whatever the cap
        self.file.flush()
        self.file.close()


def write_rejection(path: Path, reason: str, at: dt.datetime) -> None:
    """The whole log of a try that could never start (no such pool, or too small)."""
    line = {"event": "try_rejected", "level": "error", "timestamp": at.isoformat(), "error": reason}
    append_event(str(path), (json.dumps(line) + "\n").encode())


def format_line(raw: str) -> str:
    """One log line as a person reads it: output as it was, events as one line each."""
    raw = raw.rstrip("\n")
    try:
        event = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        return raw  # the try's own output, even when it is JSON
    if event.get("event") == "output":
        return str(event.get("line", ""))
    extras = " ".join(
        f"{k}={v}"
        for k, v in event.items()
        if k not in {"event", "timestamp", "level", "dag_id", "run_id", "task_id"} and v is not None
    )
    return f"[{event.get('timestamp', '')}] {event.get('event')} {extras}".rstrip()


def is_final(raw: str) -> bool:
    """Whether this raw line is the one that ends a try's log (output lines are escaped).

    A reschedule-mode sensor's poke ends with `outcome: rescheduled`, a deferring turn
    with `outcome: deferred`: the try goes on.
    """
    final = any(f'"event": "{event}"' in raw for event in FINAL_EVENTS)
    return final and not any(f'"outcome": "{o}"' in raw for o in ("rescheduled", "deferred"))


def follow_log(path: Path, still_running: Callable[[], bool], poll_s: float = 0.5) -> Iterator[str]:
    """The log's lines as they are written, until the try's final line (or it stops running).

    Reads line by line, never the whole file at once; a partial last line
    waits for its end. `still_running` is asked only when there is nothing
    new, and once it says no, what was written meanwhile is still read.
    """
    with path.open(encoding="utf-8", errors="replace") as file:
        pending = ""
        while True:
            chunk = file.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    line, pending = pending, ""
                    yield line
                    if is_final(line):
                        return
                continue
            if os.fstat(file.fileno()).st_size < file.tell():
                _skip_to_cut(file)  # cap_log cut the middle we were reading: go on after it
                pending = ""
                continue
            if not still_running():
                rest = pending + file.read()
                yield from (line + "\n" for line in rest.splitlines())
                return
            time.sleep(poll_s)


def _skip_to_cut(file: IO[str]) -> None:
    """Position `file` at its `log_truncated` line (or its end, if it has none)."""
    file.seek(0)
    while True:
        start = file.tell()
        line = file.readline()
        if not line:
            return
        if '"event": "log_truncated"' in line:
            file.seek(start)
            return


def _count_lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 16), b""))
