"""BaseTrigger and TriggerEvent: what a deferred task waits on, and what wakes it.

A trigger is rebuilt in the triggerer from `serialize()`: its class path and
keyword arguments (stored as tagged JSON, so datetimes and the like survive).
Its `run()` is an async generator; the first event it yields fires it, and
the deferred try resumes with that event's payload. Everything a trigger
does must be async (or `asyncio.to_thread`): one blocking call stalls every
other trigger on the triggerer's loop.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any


class TriggerEvent:
    """What a trigger yields when its condition holds; `payload` reaches the resumed try."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"TriggerEvent<{self.payload!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TriggerEvent) and other.payload == self.payload

    def __hash__(self) -> int:
        return hash(repr(self.payload))


class BaseTrigger(abc.ABC):
    """A condition waited on in the triggerer's asyncio loop; see the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        # Airflow's triggers take their state as keyword arguments; nothing is kept here.
        del kwargs

    @abc.abstractmethod
    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and keyword arguments that rebuild this trigger in the triggerer."""

    @abc.abstractmethod
    def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait, then yield a TriggerEvent (an `async def` with `yield`)."""

    async def cleanup(self) -> None:  # noqa: B027 (a hook: most triggers need none)
        """Called when the trigger stops (fired, failed or cancelled)."""

    def __repr__(self) -> str:
        classpath, kwargs = self.serialize()
        return f"<{classpath} {kwargs}>"
