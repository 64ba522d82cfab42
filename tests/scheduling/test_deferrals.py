"""The scheduler's deferral bookkeeping: deferred pool slots as runs are held, resumed, dropped."""

from __future__ import annotations

import datetime as dt

from taskkit.model.dag import DagSpec
from taskkit.model.results import Deferral, TryOutcome, TryResult
from taskkit.model.task import TaskSpec
from taskkit.scheduling.active_run import ActiveRun
from taskkit.scheduling.deferrals import track_deferred
from taskkit.scheduling.engine import RunEngine, TaskInstance, resumed_with
from taskkit.scheduling.run_book import RunBook
from taskkit.states import State

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SPEC = DagSpec("d", {"w": TaskSpec("w", pool="api", pool_slots=2)})


def _run(engine: RunEngine) -> ActiveRun:
    return ActiveRun(1, "d", "r", 7, T0, {}, "manual", None, None, engine)


def test_a_deferred_instance_holds_pool_slots_apart_from_slots_in_use() -> None:
    """Deferring moves its slots from the counts of running tries to the deferred count;
    resuming clears that; a run loaded with a deferred instance, or dropped, follows."""
    book = RunBook()
    run = _run(RunEngine(SPEC))
    book.hold(run, T0, dag_limit=16)
    run.engine.decide()
    run.engine.queue("w")
    book.occupy(run, "w")
    deferral = Deferral("m.T", "{}", "resume", "{}")
    [change] = run.engine.finish("w", 1, TryResult(TryOutcome.DEFERRED, deferral=deferral), T0)
    book.release(run, "w")
    assert track_deferred(book.occupancy, run, change) is True  # a triggerer is needed
    assert (book.occupancy.total, book.occupancy.per_pool["api"]) == (0, 0)
    assert book.occupancy.pool_used("api", {"api"}) == 2
    assert book.occupancy.pool_used("api", set()) == 0
    resumed = run.engine.resume("w", *resumed_with("resume", "{}", "1", None))
    assert track_deferred(book.occupancy, run, resumed) is False
    assert book.occupancy.pool_used("api", {"api"}) == 0

    loaded = _run(RunEngine(SPEC, {("w", -1): TaskInstance(State.DEFERRED, 1, 1)}))
    book.hold(loaded, T0, dag_limit=16)
    assert book.occupancy.deferred_per_pool["api"] == 2
    book.unload(loaded)
    assert book.occupancy.deferred_per_pool["api"] == 0
