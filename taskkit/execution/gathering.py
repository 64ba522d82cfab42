"""PURE: how long the Local executor's poll waits for more events after the first ones came.

Each scheduler round that handles events ends in one metastore commit, which costs
about the same for one event as for eight. With a fresh process per try, tries on
two cores end one at a time, ~2 ms apart, so a 1,000-task fan-out took ~760 rounds
and as many commits, and the scheduler spent ~0.6 ms of CPU per task; waiting a
few milliseconds for the next events takes that to ~0.45 (docs/performance.md,
"Gathering events"). A successor task is held back by at most GATHER_WINDOW_S, and
only while GATHER_MIN_RUNNING tries or more are running: a chain, one try at a time,
is never held back. With `[local] reuse_processes` the executor does not wait (see
LocalExecutor._gather).
"""

from __future__ import annotations

#: The longest a poll waits, after its first events, for more.
GATHER_WINDOW_S = 0.005
#: A poll holding this many events returns them at once.
GATHER_EVENTS = 8
#: With fewer tries running, events go back at once.
GATHER_MIN_RUNNING = 4


def gather_wait(events: int, running: int, waited_s: float) -> float:
    """Seconds more to wait for events, holding `events` with `running` tries left; 0: return."""
    if not events or events >= GATHER_EVENTS or running < GATHER_MIN_RUNNING:
        return 0.0
    return max(GATHER_WINDOW_S - waited_s, 0.0)
