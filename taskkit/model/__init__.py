"""Frozen value objects that describe DAGs, tasks and runs; no I/O here."""

from __future__ import annotations

from taskkit.model.dag import DagSpec
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec

__all__ = ["DagSpec", "TaskInstanceKey", "TaskSpec"]
