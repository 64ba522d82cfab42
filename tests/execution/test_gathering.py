"""When a Local executor's poll waits for more events before it hands them back."""

from __future__ import annotations

from taskkit.execution.gathering import (
    GATHER_EVENTS,
    GATHER_MIN_RUNNING,
    GATHER_WINDOW_S,
    gather_wait,
)


def test_a_chain_is_never_held_back() -> None:
    """With fewer than GATHER_MIN_RUNNING tries running, a finished try goes back at once."""
    assert gather_wait(1, GATHER_MIN_RUNNING - 1, 0.0) == 0.0
    assert gather_wait(1, 0, 0.0) == 0.0


def test_a_busy_executor_waits_the_window_for_more_events() -> None:
    assert gather_wait(1, 32, 0.0) == GATHER_WINDOW_S
    assert gather_wait(3, 32, 0.002) == GATHER_WINDOW_S - 0.002
    assert gather_wait(GATHER_EVENTS - 1, GATHER_MIN_RUNNING, 0.0) == GATHER_WINDOW_S


def test_gathering_ends_with_enough_events_or_the_window() -> None:
    assert gather_wait(GATHER_EVENTS, 32, 0.0) == 0.0
    assert gather_wait(1, 32, GATHER_WINDOW_S) == 0.0
    assert gather_wait(1, 32, 1.0) == 0.0


def test_nothing_to_gather_without_a_first_event() -> None:
    """A poll that timed out returns at once: the loop has timers and refreshes to run."""
    assert gather_wait(0, 32, 0.0) == 0.0
