"""The run engine's reschedule mode: pokes of one try, released by a timer, holding nothing."""

from __future__ import annotations

import datetime as dt

from taskkit.model.dag import DagSpec
from taskkit.model.results import TryOutcome, TryResult
from taskkit.model.task import TaskSpec
from taskkit.scheduling.engine import RunEngine, TaskInstance
from taskkit.states import OCCUPYING_STATES, RunState, State

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SECOND = dt.timedelta(seconds=1)


def _spec() -> DagSpec:
    return DagSpec("d", {"s": TaskSpec("s", retries=1)})


def _poke(engine: RunEngine, result: TryResult, now: dt.datetime = NOW) -> State:
    """Queue, start and finish the sensor's next poke; its new state."""
    engine.queue("s")
    number = engine.tis["s", -1].try_number
    engine.start("s", number)
    return engine.finish("s", number, result, now)[0].target


def _not_yet(at: dt.datetime) -> TryResult:
    return TryResult(TryOutcome.RESCHEDULED, reschedule_at=at, first_poke_at=NOW)


def test_a_rescheduled_poke_waits_outside_every_slot_until_its_time() -> None:
    """up_for_reschedule is not an occupying state, and the timer releases it at its time."""
    engine = RunEngine(_spec())
    engine.decide()
    assert _poke(engine, _not_yet(NOW + SECOND)) is State.UP_FOR_RESCHEDULE
    assert State.UP_FOR_RESCHEDULE not in OCCUPYING_STATES
    assert engine.next_retry_at() == NOW + SECOND
    assert engine.release_retries(NOW) == []
    [released] = engine.release_retries(NOW + SECOND)
    assert (released.source, released.target) == (State.UP_FOR_RESCHEDULE, State.SCHEDULED)


def test_pokes_continue_one_try_and_its_end_clears_the_first_poke_time() -> None:
    """The try number stays across pokes; the first poke's time is kept until the try ends."""
    engine = RunEngine(_spec())
    engine.decide()
    first = _poke(engine, _not_yet(NOW))
    engine.release_retries(NOW)
    second = _poke(engine, _not_yet(NOW))
    assert (first, second) == (State.UP_FOR_RESCHEDULE, State.UP_FOR_RESCHEDULE)
    assert engine.tis["s", -1].try_number == 1
    assert engine.tis["s", -1].first_poke_at == NOW
    engine.release_retries(NOW)
    assert _poke(engine, TryResult(TryOutcome.FAILED, error="x")) is State.UP_FOR_RETRY
    assert engine.tis["s", -1].first_poke_at is None  # the retry is a new try
    engine.release_retries(NOW + dt.timedelta(days=1))
    assert _poke(engine, TryResult(TryOutcome.SUCCESS)) is State.SUCCESS
    assert engine.tis["s", -1].try_number == 2
    assert engine.outcome() is RunState.SUCCESS


def test_a_sensor_timeout_fails_without_using_retries() -> None:
    """A non-retryable failure (AirflowSensorTimeout) after reschedules fails the task."""
    engine = RunEngine(_spec())
    engine.decide()
    _poke(engine, _not_yet(NOW))
    engine.release_retries(NOW)
    timed_out = TryResult(TryOutcome.FAILED, error="AirflowSensorTimeout", retryable=False)
    assert _poke(engine, timed_out) is State.FAILED
    assert engine.tis["s", -1].try_number == 1


def test_an_engine_loaded_between_pokes_continues_the_same_try() -> None:
    """A restarted scheduler's engine keeps the next poke time and continues try 1."""
    waiting = TaskInstance(State.UP_FOR_RESCHEDULE, 1, 2, NOW + SECOND, first_poke_at=NOW)
    engine = RunEngine(_spec(), {("s", -1): waiting})
    assert engine.next_retry_at() == NOW + SECOND
    engine.release_retries(NOW + SECOND)
    queued = engine.queue("s")
    assert (queued.target, queued.try_number) == (State.QUEUED, 1)
