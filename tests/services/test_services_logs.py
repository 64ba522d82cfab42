"""Reading a try's log in pieces: the tail, earlier pieces and new lines, never the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskkit.errors import NotFoundError
from taskkit.execution.tasklog import log_path
from taskkit.services import logs


def write_log(folder: Path, try_number: int, lines: int, *, width: int = 0) -> Path:
    """A log file shaped as the worker writes it: started, output lines, finished."""
    path = log_path(folder, "d", "r", "t", try_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = " " + "x" * width if width else ""
    with path.open("w", encoding="utf-8") as file:
        file.write(json.dumps({"event": "try_started", "timestamp": "2026-01-01T00:00:00Z"}) + "\n")
        for i in range(lines):
            file.write(json.dumps({"event": "output", "line": f"line {i}{pad}"}) + "\n")
        finished = {
            "event": "try_finished",
            "timestamp": "2026-01-01T00:00:09Z",
            "outcome": "success",
        }
        file.write(json.dumps(finished) + "\n")
    return path


def test_a_50_mb_log_is_served_as_a_bounded_tail(tmp_path: Path) -> None:
    """The tail of a 50 MB log is at most one chunk, starts on a whole line and ends the file."""
    path = write_log(tmp_path, 1, 400_000, width=100)
    assert path.stat().st_size > 50 * 1024 * 1024
    tail = logs.read_chunk(path)
    assert tail.end == tail.size == path.stat().st_size
    assert tail.end - tail.start <= logs.MAX_CHUNK
    first = tail.text.splitlines()[0]
    assert first.startswith("line "), first  # a whole line, not the cut middle of one
    assert tail.text.rstrip().endswith("outcome=success")


def test_pieces_before_and_after_join_without_gaps(tmp_path: Path) -> None:
    """Reading earlier pieces back from the tail to the start gives every line exactly once."""
    path = write_log(tmp_path, 1, 5_000)
    piece = logs.read_chunk(path, limit=10_000)
    texts = [piece.text]
    while not piece.at_start:
        piece = logs.read_chunk_before(path, piece.start, limit=10_000)
        texts.insert(0, piece.text)
    lines = "".join(texts).splitlines()
    assert lines[1] == "line 0"
    assert lines[-2] == "line 4999"
    assert len(lines) == 5_002


def test_following_from_the_end_returns_only_new_whole_lines(tmp_path: Path) -> None:
    """Asking again from `end` gives nothing, then only lines appended since, never half a line."""
    path = write_log(tmp_path, 1, 10)
    tail = logs.read_chunk(path)
    assert logs.read_chunk(path, start=tail.end).text == ""
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"event": "output", "line": "appended"}) + "\n")
        file.write('{"event": "output", "line": "half')
    more = logs.read_chunk(path, start=tail.end)
    assert more.text == "appended\n"


def test_download_streams_the_whole_log_as_text(tmp_path: Path) -> None:
    """The download gives every line, formatted, piece by piece."""
    path = write_log(tmp_path, 1, 3_000)
    text = b"".join(logs.stream_formatted(path, block=4096)).decode()
    assert text.count("\n") == 3_002
    assert "line 2999" in text


def test_a_try_without_a_log_is_a_clear_error(tmp_path: Path) -> None:
    """Asking for a try that has no log lists the tries that do."""
    write_log(tmp_path, 1, 1)
    write_log(tmp_path, 2, 1)
    with pytest.raises(NotFoundError, match="tries with logs: 1, 2"):
        logs.find_log(tmp_path, "d", "r", "t", 5)
    assert logs.find_log(tmp_path, "d", "r", "t", None).name == "2.log"
    with pytest.raises(NotFoundError, match="has not started a try"):
        logs.find_log(tmp_path, "d", "r", "other", None)


def test_try_spans_give_each_tries_start_end_and_outcome(tmp_path: Path) -> None:
    """Each try's span comes from its log's first and last lines."""
    write_log(tmp_path, 1, 2)
    spans = logs.try_spans(tmp_path, "d", "r", "t")
    assert [(s.try_number, s.started, s.ended, s.outcome) for s in spans] == [
        (1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:09Z", "success")
    ]
