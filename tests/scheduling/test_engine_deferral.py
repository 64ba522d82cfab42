"""The run engine's deferral: one try across a trigger's wait, ended by the trigger or a timer."""

from __future__ import annotations

import datetime as dt
import json

from taskkit.model.dag import DagSpec
from taskkit.model.results import FAIL_METHOD, Deferral, TryOutcome, TryResult
from taskkit.model.task import TaskSpec
from taskkit.scheduling.engine import RunEngine, TaskInstance, resumed_with
from taskkit.states import OCCUPYING_STATES, RunState, State

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SECOND = dt.timedelta(seconds=1)


def _deferred(timeout_at: dt.datetime | None = None) -> TryResult:
    deferral = Deferral("pkg.triggers.Flag", '{"path": "/x"}', "resume", '{"n": 1}', timeout_at)
    return TryResult(TryOutcome.DEFERRED, deferral=deferral)


def _turn(engine: RunEngine, result: TryResult) -> State:
    """Queue, start and finish the task's next turn; its new state."""
    engine.queue("t")
    number = engine.tis["t", -1].try_number
    engine.start("t", number)
    return engine.finish("t", number, result, NOW)[0].target


def _engine() -> RunEngine:
    engine = RunEngine(DagSpec("d", {"t": TaskSpec("t", retries=1)}))
    engine.decide()
    return engine


def test_a_deferred_try_holds_nothing_and_resumes_as_the_same_try() -> None:
    engine = _engine()
    assert _turn(engine, _deferred()) is State.DEFERRED
    assert State.DEFERRED not in OCCUPYING_STATES
    assert engine.next_retry_at() is None  # no timeout: only the trigger releases it
    ti = engine.tis["t", -1]
    assert (ti.next_method, ti.next_kwargs) == ("resume", '{"n": 1}')
    method, kwargs = resumed_with(ti.next_method, ti.next_kwargs, '{"found": true}', None)
    change = engine.resume("t", method, kwargs)
    assert (change.source, change.target, change.next_method) == (
        State.DEFERRED,
        State.SCHEDULED,
        "resume",
    )
    assert json.loads(change.next_kwargs or "") == {"n": 1, "event": {"found": True}}
    assert engine.continues_try("t")
    assert _turn(engine, TryResult(TryOutcome.SUCCESS)) is State.SUCCESS
    assert ti.try_number == 1
    assert (ti.next_method, ti.next_kwargs) == (None, None)  # cleared once the try ended
    assert engine.outcome() is RunState.SUCCESS


def test_a_deferral_timeout_resumes_the_try_to_fail_and_a_fired_trigger_drops_the_timer() -> None:
    engine = _engine()
    assert _turn(engine, _deferred(NOW + SECOND)) is State.DEFERRED
    assert engine.next_retry_at() == NOW + SECOND
    assert engine.release_retries(NOW) == []
    [released] = engine.release_retries(NOW + SECOND)
    assert (released.target, released.next_method) == (State.SCHEDULED, FAIL_METHOD)
    assert json.loads(released.next_kwargs or "") == {"error": "Trigger/execution timeout"}
    assert _turn(engine, TryResult(TryOutcome.FAILED, error="x")) is State.UP_FOR_RETRY
    engine.release_retries(NOW + dt.timedelta(days=1))
    # The retry defers again and its trigger fires first: its timer no longer counts.
    assert _turn(engine, _deferred(NOW + 10 * SECOND)) is State.DEFERRED
    engine.resume("t", *resumed_with("resume", "{}", "null", None))
    assert engine.next_retry_at() is None


def test_a_failed_trigger_resumes_the_try_to_fail_with_its_error() -> None:
    method, kwargs = resumed_with(
        "resume", '{"n": 1}', None, "ConnectionError: down\nTraceback ...\n"
    )
    assert method == FAIL_METHOD
    assert json.loads(kwargs) == {"error": "ConnectionError: down", "traceback": "Traceback ...\n"}


def test_a_deferred_instance_loaded_from_the_metastore_waits_on() -> None:
    """A restarted scheduler's engine keeps a deferred instance deferred, its timer armed."""
    spec = DagSpec("d", {"t": TaskSpec("t")})
    ti = TaskInstance(
        State.DEFERRED, 1, 1, next_retry_at=NOW + SECOND, next_method="resume", next_kwargs="{}"
    )
    engine = RunEngine(spec, {("t", -1): ti})
    assert engine.next_retry_at() == NOW + SECOND
    assert engine.continues_try("t")
    assert engine.outcome() is None
