"""How a try ended: the record a worker hands back to whoever decides what comes next."""

from __future__ import annotations

import enum
from typing import Any

import attrs


class TryOutcome(enum.Enum):
    """How one try ended, as the worker reports it."""

    SUCCESS = "success"
    FAILED = "failed"  #: raised, crashed, was killed or timed out
    SKIPPED = "skipped"  #: asked to be skipped (TaskSkipped, bash exit 99)


@attrs.frozen
class TryResult:
    """The outcome of one try, its XCom value and, when it failed, why."""

    outcome: TryOutcome
    value: Any = None
    error: str | None = None
    duration_s: float = 0.0
