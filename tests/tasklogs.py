"""Reading a whole try log as a person would, for assertions (production streams it by line)."""

from __future__ import annotations

from pathlib import Path

from taskkit.execution.tasklog import format_line


def format_log(path: Path) -> str:
    """The whole log as text a person reads (see `taskkit.execution.tasklog.format_line`)."""
    with path.open(encoding="utf-8", errors="replace") as file:
        return "".join(format_line(raw) + "\n" for raw in file)
