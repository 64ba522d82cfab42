"""Task instances: conditional batched transitions, listing, heartbeats, XCom."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from taskkit.metastore import Metastore, RunRecord, TIChange
from taskkit.metastore.records import XComWrite
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.task import TaskSpec
from taskkit.states import RunState, State

MakeRun = Callable[..., RunRecord]
A = TaskInstanceKey("etl", "run1", "a")
B = TaskInstanceKey("etl", "run1", "b")


def test_transitions_apply_only_from_expected_states(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Each change applies iff the TI is in an expected state; the result says which did."""
    make_run()
    now = dt.datetime.now(dt.timezone.utc)
    applied = metastore.transition_task_instances(
        [
            TIChange(A, {State.NONE, State.SCHEDULED}, state=State.QUEUED, queued_at=now),
            TIChange(B, {State.SCHEDULED}, state=State.QUEUED),
        ]
    )
    assert applied == [True, False]
    a, b = metastore.list_task_instances("etl", "run1")
    assert (a.state, a.queued_at, b.state) == (State.QUEUED, now, State.NONE)


def test_unset_fields_are_kept_and_none_clears(metastore: Metastore, make_run: MakeRun) -> None:
    """Fields left UNSET keep their value; fields set to None are cleared."""
    make_run()
    metastore.transition_task_instances(
        [TIChange(A, State.NONE, state=State.RUNNING, try_number=1, hostname="h", pid=42)]
    )
    metastore.transition_task_instances(
        [TIChange(A, State.RUNNING, state=State.UP_FOR_RETRY, pid=None, error="boom")]
    )
    (a, _) = metastore.list_task_instances("etl", "run1")
    assert (a.state, a.try_number, a.hostname, a.pid, a.error) == (
        State.UP_FOR_RETRY,
        1,
        "h",
        None,
        "boom",
    )


def test_active_task_instances_come_from_active_runs_only(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Only TIs of queued/running runs are listed; unfinished_only drops finished TIs,
    occupying_only keeps the queued and running ones."""
    make_run("run1")
    make_run("run2", [TaskSpec("x")], logical_date=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc))
    metastore.set_run_state("etl", "run2", RunState.SUCCESS)
    metastore.transition_task_instances([TIChange(A, State.NONE, state=State.SUCCESS)])
    assert [ti.task_id for ti in metastore.list_active_task_instances()] == ["a", "b"]
    unfinished = metastore.list_active_task_instances(unfinished_only=True)
    assert [ti.key for ti in unfinished] == [B]
    assert metastore.list_active_task_instances(occupying_only=True) == []
    metastore.transition_task_instances([TIChange(B, State.NONE, state=State.QUEUED)])
    assert [ti.key for ti in metastore.list_active_task_instances(occupying_only=True)] == [B]


def test_heartbeats_stamp_only_queued_and_running_task_instances(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """A heartbeat stamps queued and running TIs and says how many; a finished TI is left alone."""
    make_run()
    beat = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    metastore.transition_task_instances([TIChange(A, State.NONE, state=State.RUNNING)])
    assert metastore.heartbeat_task_instances([A, B], now=beat) == 1
    a, b = metastore.list_task_instances("etl", "run1")
    assert (a.heartbeat_at, b.heartbeat_at) == (beat, None)


def test_xcom_values_are_stored_with_their_transition_and_replaced(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Values written with a transition are stored encoded per key; a second write replaces."""
    make_run()
    metastore.transition_task_instances([], [XComWrite(A, "return_value", b"1", "json")])
    metastore.transition_task_instances(
        [],
        [XComWrite(A, "return_value", b"2", "json"), XComWrite(A, "other", b"\x80", "pickle")],
    )
    stored = [(x.task_id, x.key, x.value, x.encoding) for x in metastore.get_xcoms("etl", "run1")]
    assert stored == [("a", "other", b"\x80", "pickle"), ("a", "return_value", b"2", "json")]


def test_expanding_replaces_the_unmapped_row_by_one_row_per_instance(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """The -1 row becomes rows 0..n-1 with its pool and tries; each is keyed by its map_index."""
    make_run(tasks=[TaskSpec("m", pool="p", pool_slots=2, retries=1)])
    unmapped = TaskInstanceKey("etl", "run1", "m")
    assert metastore.expand_task_instance(unmapped, 3)
    rows = metastore.list_task_instances("etl", "run1")
    assert [(r.map_index, r.state, r.pool, r.pool_slots, r.max_tries) for r in rows] == [
        (i, State.NONE, "p", 2, 2) for i in range(3)
    ]
    assert not metastore.expand_task_instance(unmapped, 3)  # already expanded: nothing changes
    second = TaskInstanceKey("etl", "run1", "m", 1)
    assert metastore.transition_task_instances([TIChange(second, State.NONE, state=State.QUEUED)])
    assert [r.state for r in metastore.list_task_instances("etl", "run1")] == [
        State.NONE,
        State.QUEUED,
        State.NONE,
    ]
    assert metastore.get_task_instance(second) is not None


def test_xcoms_of_instances_are_kept_apart_with_their_lengths(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Each instance's value has its own row; a list's length is stored beside it."""
    make_run()
    first, second = (TaskInstanceKey("etl", "run1", "a", i) for i in (0, 1))
    metastore.transition_task_instances(
        [],
        [
            XComWrite(second, "return_value", b"[1, 2]", "json", length=2),
            XComWrite(first, "return_value", b"7", "json"),
        ],
    )
    stored = [(x.map_index, x.value, x.length) for x in metastore.get_xcoms("etl", "run1")]
    assert stored == [(0, b"7", None), (1, b"[1, 2]", 2)]


def test_a_large_batch_applies_in_slices_and_still_tells_which_changes_lost(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """A batch larger than one statement's slice (2,000 rows) applies whole, and a change that
    lost its race in a later slice is the only one reported as not applied."""
    make_run(tasks=[TaskSpec(f"t{i:04d}") for i in range(4500)])
    keys = [TaskInstanceKey("etl", "run1", f"t{i:04d}") for i in range(4500)]
    metastore.transition_task_instances([TIChange(keys[3000], State.NONE, state=State.SKIPPED)])
    applied = metastore.transition_task_instances(
        [TIChange(key, State.NONE, state=State.SCHEDULED) for key in keys]
    )
    assert [i for i, ok in enumerate(applied) if not ok] == [3000]
    states = {ti.task_id: ti.state for ti in metastore.list_task_instances("etl", "run1")}
    assert states.pop("t3000") is State.SKIPPED
    assert set(states.values()) == {State.SCHEDULED}


def test_progress_rows_carry_what_a_run_resumes_from(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """The narrow rows a run is loaded from agree with the full records, by task id."""
    make_run()
    retry_at = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    metastore.transition_task_instances(
        [TIChange(A, State.NONE, state=State.UP_FOR_RETRY, try_number=1, next_retry_at=retry_at)]
    )
    full = metastore.list_task_instances("etl", "run1")
    rows = metastore.list_ti_progress("etl", "run1")
    assert [(r.task_id, r.map_index, r.state, r.try_number, r.next_retry_at) for r in rows] == [
        (t.task_id, t.map_index, t.state, t.try_number, t.next_retry_at) for t in full
    ]
    assert rows[0].next_retry_at == retry_at


def test_current_tries_reads_a_batch_of_keys_in_one_call(
    metastore: Metastore, make_run: MakeRun
) -> None:
    """Each existing key gets its (try number, state); keys with no task instance are absent."""
    make_run()
    metastore.transition_task_instances(
        [TIChange(A, State.NONE, state=State.RUNNING, try_number=2)]
    )
    ghost = TaskInstanceKey("etl", "run1", "ghost")
    assert metastore.current_tries([A, B, ghost]) == {A: (2, State.RUNNING), B: (0, State.NONE)}
    assert metastore.current_tries([]) == {}
