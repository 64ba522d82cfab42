"""SequentialExecutor: one try at a time, each in a child process (LocalExecutor, capacity 1)."""

from __future__ import annotations

from taskkit.execution.local import SequentialExecutor

__all__ = ["SequentialExecutor"]
