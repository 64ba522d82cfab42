"""FileTrigger: fires when a file (or a non-empty folder) matching a path or glob exists."""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from taskkit.triggers.base import BaseTrigger, TriggerEvent


class FileTrigger(BaseTrigger):
    """Looks for `filepath` every `poke_interval` seconds; the event's payload is True.

    Matches as FileSensor does: a file, or a folder holding a file below it;
    `recursive=True` lets `**` match nested folders.
    """

    def __init__(self, filepath: str, recursive: bool = False, poke_interval: float = 5.0) -> None:
        super().__init__()
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(f"FileTrigger: filepath must be a non-empty path, got {filepath!r}.")
        self.filepath = filepath
        self.recursive = bool(recursive)
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return "taskkit.triggers.file.FileTrigger", {
            "filepath": self.filepath,
            "recursive": self.recursive,
            "poke_interval": self.poke_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while not await asyncio.to_thread(first_match, self.filepath, self.recursive):
            await asyncio.sleep(self.poke_interval)
        yield TriggerEvent(True)


def first_match(pattern: str, recursive: bool) -> str | None:
    """What `pattern` matches first: "file PATH", or "files in folder PATH" for a folder
    holding a file somewhere below it; None when nothing matches yet."""
    # Path.glob takes no absolute patterns: glob.glob does.
    for path in glob.glob(pattern, recursive=recursive):  # noqa: PTH207
        if Path(path).is_file():
            return f"file {path}"
        for _, _, files in os.walk(path):
            if files:
                return f"files in folder {path}"
    return None
