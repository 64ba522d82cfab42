"""Task logs: private files, capped size keeping head and tail, read and followed line by line."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from tasklogs import format_log

from taskkit.execution.tasklog import (
    TryLog,
    bound_keys,
    event_line,
    finish_log,
    finished_line,
    follow_log,
    format_line,
    log_path,
    open_log,
    write_event,
    write_rejection,
)
from taskkit.execution.workload import Workload
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import TryOutcome, TryResult


def _workload(logs: Path, max_log_bytes: int | None = None) -> Workload:
    key = TaskInstanceKey("d", "r", "t")
    return Workload(
        key=key,
        try_number=1,
        max_tries=1,
        dag_version_id=1,
        logical_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        conf={},
        run_type="manual",
        log_path=str(log_path(logs, "d", "r", "t", 1)),
        max_log_bytes=max_log_bytes,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_files_are_0600_in_0700_folders(tmp_path: Path) -> None:
    """A try's log, and every folder created for it, are readable by their owner only."""
    logs = tmp_path / "logs"
    log = TryLog.open(_workload(logs))
    log.finished(TryResult(TryOutcome.SUCCESS))
    path = log_path(logs, "d", "r", "t", 1)
    assert _mode(path) == 0o600
    for folder in (logs, logs / "d", logs / "d" / "r", logs / "d" / "r" / "t"):
        assert _mode(folder) == 0o700, folder
    rejected = log_path(logs, "d", "r2", "t", 1)
    write_rejection(rejected, "no pool", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert _mode(rejected) == 0o600 and _mode(rejected.parent) == 0o700


def test_open_log_makes_each_missing_folder_private_and_appends(tmp_path: Path) -> None:
    """A try's log opens whether none, some or all of its folders exist; all made 0700."""
    logs = tmp_path / "logs"
    first = log_path(logs, "d", "r", "t", 1)  # no folder yet
    second = log_path(logs, "d", "r", "u", 1)  # its run's folder exists: only its own is new
    retry = log_path(logs, "d", "r", "u", 2)  # every folder exists
    for path in (first, second, retry, retry):
        fd = open_log(str(path))
        try:
            write_event(fd, b"line\n")
        finally:
            os.close(fd)
        assert _mode(path) == 0o600
    for folder in (logs, logs / "d", logs / "d" / "r", first.parent, second.parent):
        assert _mode(folder) == 0o700, folder
    assert retry.read_bytes() == b"line\nline\n"


def test_a_chatty_try_keeps_head_and_tail_within_the_cap_and_says_what_was_cut(
    tmp_path: Path,
) -> None:
    """Printing far more than logging.max_task_log_bytes leaves a log near the cap that starts
    as the try started, ends as it ended, and names the bytes cut and the setting."""
    logs = tmp_path / "logs"
    cap = 64 * 1024
    log = TryLog.open(_workload(logs, max_log_bytes=cap))
    log.started(123, "host")
    for i in range(20_000):
        log.output("stdout", f"line {i:05d} ".encode() + b"x" * 40 + b"\n")
    log.finished(TryResult(TryOutcome.FAILED, error="boom"))
    path = log_path(logs, "d", "r", "t", 1)
    size = path.stat().st_size
    assert size <= cap + 2048, size
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert events[0]["event"] == "try_started"
    assert events[1]["line"].startswith("line 00000 ")
    [note] = [e for e in events if e["event"] == "log_truncated"]
    assert note["cut_bytes"] > 1_000_000 and note["cut_lines"] > 10_000
    assert "logging.max_task_log_bytes = 65536" in note["limit"]
    assert events[-2]["line"].startswith("line 19999 ")
    assert events[-1]["event"] == "try_finished" and events[-1]["error"] == "boom"
    assert list(path.parent.iterdir()) == [path]  # the side files are gone
    numbers = [int(e["line"][5:10]) for e in events if e["event"] == "output"]
    assert numbers == sorted(numbers)  # nothing out of order around the cut


def test_a_quiet_try_is_not_touched_by_the_cap(tmp_path: Path) -> None:
    """Under the cap the log is exactly what was written, with no truncation note."""
    logs = tmp_path / "logs"
    log = TryLog.open(_workload(logs))
    log.output("stdout", b"hello\nworld\n")
    log.finished(TryResult(TryOutcome.SUCCESS))
    text = format_log(log_path(logs, "d", "r", "t", 1))
    assert text.splitlines()[:2] == ["hello", "world"]
    assert "log_truncated" not in text


def test_follow_prints_lines_as_they_come_and_stops_at_the_end_of_the_try(tmp_path: Path) -> None:
    """Following a log yields lines written later, and ends after the try's final line."""
    logs = tmp_path / "logs"
    log = TryLog.open(_workload(logs))
    log.output("stdout", b"first\n")
    log.file.flush()
    path = log_path(logs, "d", "r", "t", 1)
    seen: list[str] = []

    def writer() -> None:
        while not seen:
            time.sleep(0.01)
        for i in range(3):
            log.output("stdout", f"later {i}\n".encode())
            log.file.flush()
            time.sleep(0.05)
        log.finished(TryResult(TryOutcome.SUCCESS))

    thread = threading.Thread(target=writer)
    thread.start()
    for raw in follow_log(path, lambda: True, poll_s=0.01):
        seen.append(format_line(raw))
    thread.join()
    assert seen[:4] == ["first", "later 0", "later 1", "later 2"]
    assert seen[-1].startswith("[") and "try_finished" in seen[-1]


@pytest.mark.parametrize("outcome", [TryOutcome.RESCHEDULED, TryOutcome.DEFERRED])
def test_follow_goes_on_past_a_sensors_rescheduled_poke(
    tmp_path: Path, outcome: TryOutcome
) -> None:
    """A poke ending `rescheduled` (or a turn ending `deferred`) does not end the try's log:
    the next turn's lines follow."""
    logs = tmp_path / "logs"
    first = TryLog.open(_workload(logs))
    first.output("stdout", b"poke 1\n")
    first.finished(TryResult(outcome))
    second = TryLog.open(_workload(logs))
    second.output("stdout", b"poke 2\n")
    second.finished(TryResult(TryOutcome.SUCCESS))
    lines = [
        format_line(raw)
        for raw in follow_log(log_path(logs, "d", "r", "t", 1), lambda: True, poll_s=0.01)
    ]
    assert [line for line in lines if line.startswith("poke")] == ["poke 1", "poke 2"]
    assert "outcome=success" in lines[-1]


def test_follow_of_a_try_that_is_gone_prints_what_is_there_and_stops(tmp_path: Path) -> None:
    """When the try no longer runs (killed with its worker), following ends at the last line."""
    logs = tmp_path / "logs"
    log = TryLog.open(_workload(logs))
    log.output("stdout", b"only\n")
    log.file.flush()
    lines = list(follow_log(log_path(logs, "d", "r", "t", 1), lambda: False, poll_s=0.01))
    assert [format_line(raw) for raw in lines] == ["only"]


def test_a_try_writing_straight_into_its_log_is_capped_when_it_ends(tmp_path: Path) -> None:
    """Output a forked try wrote past the cap is cut to head and tail when it ends, with a note;
    a follower that was reading the cut middle goes on after the cut to the try's last line."""
    path = log_path(tmp_path / "logs", "d", "r", "t", 1)
    bound = bound_keys("d", "r", "t", 1)
    fd = open_log(str(path))
    write_event(fd, event_line(bound, "info", "try_started", pid=1))
    for i in range(20_000):
        os.write(fd, f"line {i:05d} ".encode() + b"x" * 40 + b"\n")
    follower = follow_log(path, lambda: True, poll_s=0.01)
    early = [format_line(next(follower)) for _ in range(15_000)]
    cap = 64 * 1024
    finish_log(fd, bound, cap, finished_line(bound, "failed", 1.0, "boom"))
    os.close(fd)
    assert path.stat().st_size <= cap + 2048 and _mode(path) == 0o600
    whole = format_log(path).splitlines()
    assert "try_started" in whole[0] and whole[1].startswith("line 00000 ")
    [note] = [line for line in whole if "log_truncated" in line]
    assert "logging.max_task_log_bytes = 65536" in note
    assert whole[-2].startswith("line 19999 ") and "error=boom" in whole[-1]
    rest = [format_line(line) for line in follower]
    assert early[-1].startswith("line 14998 ")
    assert any("log_truncated" in line for line in rest) and "try_finished" in rest[-1]
    assert rest[-2].startswith("line 19999 ")


def test_output_that_looks_like_json_is_shown_as_written(tmp_path: Path) -> None:
    """A try printing JSON (even with an "event" key) sees it in its log as it printed it."""
    path = log_path(tmp_path / "logs", "d", "r", "t", 1)
    fd = open_log(str(path))
    os.write(fd, b'{"event": "deploy", "ok": true}\n[1, 2]\n')
    os.close(fd)
    assert format_log(path).splitlines() == ['{"event": "deploy", "ok": true}', "[1, 2]"]
