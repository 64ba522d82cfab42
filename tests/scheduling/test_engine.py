"""The run engine: one run's state machine, without a database, a clock or processes."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit.errors import IllegalTransitionError
from taskkit.execution.workload import EncodedXCom
from taskkit.model.dag import DagSpec
from taskkit.model.results import EncodedXComSequence, SkipScope, TryOutcome, TryResult
from taskkit.model.task import MapLength, MapSpec, TaskSpec
from taskkit.scheduling.engine import RunEngine, TaskInstance, Transition
from taskkit.states import RunState, State, TriggerRule

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
OK = TryResult(TryOutcome.SUCCESS)
FAIL = TryResult(TryOutcome.FAILED, error="boom")


def run_one(engine: RunEngine, task_id: str, result: TryResult = OK) -> list[Transition]:
    """Queue, start and finish one scheduled task's try."""
    engine.queue(task_id)
    try_number = engine.ti(task_id).try_number
    engine.start(task_id, try_number)
    return engine.finish(task_id, try_number, result, NOW)


def targets(changes: list[Transition]) -> dict[str, State]:
    return {c.task_id: c.target for c in changes}


def _spec(edges: str, overrides: dict[str, dict[str, object]] | None = None) -> DagSpec:
    """A DagSpec from edges like 'a>b a>c' (a lone 'a' is a task without edges)."""
    tokens = [e.split(">") for e in edges.split()]
    pairs = [(t[0], t[1]) for t in tokens if len(t) == 2]
    ids = sorted({t for token in tokens for t in token} | set(overrides or {}))
    return DagSpec(
        "d",
        {
            t: TaskSpec(
                t,
                upstream=frozenset(a for a, b in pairs if b == t),
                downstream=frozenset(b for a, b in pairs if a == t),
                **(overrides or {}).get(t, {}),
            )
            for t in ids
        },
    )


def test_roots_are_scheduled_first_and_downstream_follows_a_success() -> None:
    """Only roots are ready at first; a success makes its downstream task ready."""
    engine = RunEngine(_spec("a>b"))
    assert targets(engine.decide()) == {"a": State.SCHEDULED}
    run_one(engine, "a")
    assert targets(engine.decide()) == {"b": State.SCHEDULED}
    run_one(engine, "b")
    assert engine.outcome() is RunState.SUCCESS


def test_a_failure_cascades_upstream_failed_in_one_call() -> None:
    """A failed task settles its whole downstream branch at once."""
    engine = RunEngine(_spec("a>b b>c"))
    engine.decide()
    run_one(engine, "a", FAIL)
    assert targets(engine.decide()) == {"b": State.UPSTREAM_FAILED, "c": State.UPSTREAM_FAILED}
    assert engine.outcome() is RunState.FAILED


def test_a_failed_try_with_retries_left_waits_for_its_retry_time() -> None:
    """up_for_retry until the retry time given as `now`; then scheduled with the next try."""
    engine = RunEngine(_spec("a", {"a": {"retries": 1, "retry_delay": dt.timedelta(seconds=5)}}))
    engine.decide()
    (change,) = run_one(engine, "a", FAIL)
    assert change.target is State.UP_FOR_RETRY
    assert change.next_retry_at == NOW + dt.timedelta(seconds=5)
    assert engine.release_retries(NOW) == []
    assert targets(engine.release_retries(NOW + dt.timedelta(seconds=5))) == {"a": State.SCHEDULED}
    (change,) = run_one(engine, "a")
    assert change.try_number == 2 and change.target is State.SUCCESS


def test_a_fail_exception_skips_the_remaining_retries() -> None:
    """A try that is not retryable (AirflowFailException) fails the task at once."""
    engine = RunEngine(_spec("a", {"a": {"retries": 3}}))
    engine.decide()
    (change,) = run_one(engine, "a", TryResult(TryOutcome.FAILED, retryable=False))
    assert change.target is State.FAILED


def test_what_a_failed_try_pushed_is_kept_and_a_new_try_starts_clean() -> None:
    """XComs of a failed try stay for downstream tasks; the next try of the task clears them."""
    value = EncodedXCom(b"41", "json")
    engine = RunEngine(_spec("a>b", {"a": {"retries": 1, "retry_delay": dt.timedelta(0)}}))
    engine.decide()
    run_one(engine, "a", TryResult(TryOutcome.FAILED, xcoms={"partial": value}))
    assert engine.xcoms_for("b") == {("a", "partial"): value}
    engine.release_retries(NOW)
    engine.queue("a")
    assert engine.xcoms_for("b") == {}


def test_a_try_sees_the_values_of_every_ancestor_but_not_of_other_branches() -> None:
    """xcoms_for reaches ancestors however far up, and nothing beside them."""
    engine = RunEngine(
        _spec("a>b b>c x>y"),
        xcoms={(t, -1): {"return_value": EncodedXCom(t.encode(), "json")} for t in "abx"},
    )
    assert set(engine.xcoms_for("c")) == {("a", "return_value"), ("b", "return_value")}


def test_a_branch_skips_the_unchosen_path_but_not_the_join_of_an_empty_branch() -> None:
    """Direct downstream tasks not chosen are skipped, unless reachable from a chosen one."""
    engine = RunEngine(
        _spec(
            "branch>left branch>right branch>join left>join right>after_right",
            {"join": {"trigger_rule": TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS}},
        )
    )
    engine.decide()
    changes = run_one(engine, "branch", TryResult(TryOutcome.SUCCESS, follow=frozenset({"left"})))
    assert targets(changes[1:]) == {"right": State.SKIPPED}
    assert targets(engine.decide()) == {"left": State.SCHEDULED, "after_right": State.SKIPPED}
    run_one(engine, "left")
    assert targets(engine.decide()) == {"join": State.SCHEDULED}


def test_a_short_circuit_skips_all_descendants_but_teardowns() -> None:
    """SkipScope.ALL skips every descendant whatever its trigger rule; teardowns still run."""
    engine = RunEngine(
        _spec(
            "check>a a>b a>clean",
            {
                "b": {"trigger_rule": TriggerRule.ALL_DONE},
                "clean": {"is_teardown": True, "trigger_rule": TriggerRule.ALL_DONE},
            },
        )
    )
    engine.decide()
    skip_all = TryResult(TryOutcome.SUCCESS, skip_downstream=SkipScope.ALL)
    changes = run_one(engine, "check", skip_all)
    assert targets(changes[1:]) == {"a": State.SKIPPED, "b": State.SKIPPED}
    assert targets(engine.decide()) == {"clean": State.SCHEDULED}


def test_a_direct_short_circuit_lets_trigger_rules_decide_further_down() -> None:
    """SkipScope.DIRECT skips direct downstream tasks; an all_done task after them runs."""
    engine = RunEngine(_spec("check>a a>b", {"b": {"trigger_rule": TriggerRule.ALL_DONE}}))
    engine.decide()
    run_one(engine, "check", TryResult(TryOutcome.SUCCESS, skip_downstream=SkipScope.DIRECT))
    assert targets(engine.decide()) == {"b": State.SCHEDULED}


def test_a_quiet_teardown_never_decides_the_run() -> None:
    """Work failed, its teardown succeeded: the run fails (the teardown hides nothing)."""
    engine = RunEngine(
        _spec(
            "setup>work work>teardown setup>teardown",
            {
                "setup": {"is_setup": True},
                "teardown": {
                    "is_teardown": True,
                    "trigger_rule": TriggerRule.ALL_DONE_SETUP_SUCCESS,
                    "upstream_setups": frozenset({"setup"}),
                },
            },
        )
    )
    engine.decide()
    run_one(engine, "setup")
    engine.decide()
    run_one(engine, "work", FAIL)
    assert targets(engine.decide()) == {"teardown": State.SCHEDULED}
    run_one(engine, "teardown")
    assert engine.outcome() is RunState.FAILED


def test_stale_reports_change_nothing() -> None:
    """A finish for an older try, or for a task not running, is ignored."""
    engine = RunEngine(_spec("a"))
    engine.decide()
    engine.queue("a")
    assert engine.finish("a", 7, OK, NOW) == []
    assert engine.start("a", 7) is None
    assert engine.ti("a").state is State.QUEUED


def test_transitions_outside_the_allowed_table_raise() -> None:
    """The engine cannot move a task from success straight to running: the table forbids it."""
    with pytest.raises(IllegalTransitionError):
        Transition("a", State.SUCCESS, State.RUNNING, 1)


def test_an_engine_loaded_mid_run_resumes_where_the_metastore_left_it() -> None:
    """Loaded from stored states, it evaluates undecided tasks and re-arms retry timers."""
    instances = {
        ("a", -1): TaskInstance(State.SUCCESS, 1, 1),
        ("b", -1): TaskInstance(State.UP_FOR_RETRY, 1, 2, NOW),
        ("c", -1): TaskInstance(State.NONE, 0, 1),
    }
    engine = RunEngine(_spec("a>c b>c", {"b": {"retries": 1}}), instances)
    assert engine.decide() == []
    assert engine.next_retry_at() == NOW
    assert targets(engine.release_retries(NOW)) == {"b": State.SCHEDULED}


# -- dynamic task mapping --------------------------------------------------------------


def _mapped(*lengths: MapLength) -> dict[str, object]:
    return {"map_spec": MapSpec(lengths)}


def _pushed(engine: RunEngine, task_id: str, value: EncodedXCom) -> None:
    """Run an unmapped task's try that returns `value`."""
    run_one(engine, task_id, TryResult(TryOutcome.SUCCESS, xcoms={"return_value": value}))


def _run_instance(engine: RunEngine, task_id: str, map_index: int, result: TryResult = OK) -> None:
    engine.queue(task_id, map_index)
    try_number = engine.ti(task_id, map_index).try_number
    engine.start(task_id, try_number, map_index)
    engine.finish(task_id, try_number, result, NOW, map_index=map_index)


def test_a_mapped_task_expands_into_scheduled_instances_when_ready() -> None:
    """A literal of three items gives instances 0..2, all scheduled; -1 is replaced."""
    engine = RunEngine(_spec("m>after", {"m": _mapped(MapLength(literal=3))}))
    changes = engine.decide()
    assert [(c.task_id, c.map_index, c.target) for c in changes] == [
        ("m", i, State.SCHEDULED) for i in range(3)
    ]
    assert engine.take_expansions() == [("m", 3)]
    assert engine.take_expansions() == []
    assert ("m", -1) not in engine.tis
    assert engine.states()["m"] is State.RUNNING


def test_the_downstream_task_waits_for_every_instance_and_gets_their_values_in_order() -> None:
    """The reduce step: one sequence of the instances' values, in map-index order."""
    engine = RunEngine(_spec("m>after", {"m": _mapped(MapLength(literal=3))}))
    engine.decide()
    for i in (2, 0, 1):
        value = EncodedXCom(str(i).encode(), "json")
        _run_instance(engine, "m", i, TryResult(TryOutcome.SUCCESS, xcoms={"return_value": value}))
        expected = {} if i != 1 else {"after": State.SCHEDULED}
        assert targets(engine.decide()) == expected
    (sequence,) = engine.xcoms_for("after").values()
    assert isinstance(sequence, EncodedXComSequence)
    assert [v.data for v in sequence.values] == [b"0", b"1", b"2"]
    assert engine.states()["m"] is State.SUCCESS


def test_an_upstream_list_decides_the_count_from_its_recorded_length() -> None:
    """The length recorded with the encoded value is all the engine reads."""
    engine = RunEngine(_spec("src>m", {"m": _mapped(MapLength(task_id="src"))}))
    engine.decide()
    _pushed(engine, "src", EncodedXCom(b"opaque", "pickle", length=4))
    assert len(engine.decide()) == 4


def test_expanding_over_nothing_skips_the_task_and_its_downstream() -> None:
    """An empty list: the mapped task is skipped, and trigger rules carry the skip on."""
    engine = RunEngine(_spec("src>m m>after", {"m": _mapped(MapLength(task_id="src"))}))
    engine.decide()
    _pushed(engine, "src", EncodedXCom(b"[]", "json", length=0))
    assert targets(engine.decide()) == {"m": State.SKIPPED, "after": State.SKIPPED}
    assert engine.outcome() is RunState.SUCCESS


def test_expanding_over_a_value_that_is_not_a_list_fails_with_the_reason() -> None:
    """A pushed int (no recorded length) fails the mapped task, saying why."""
    engine = RunEngine(_spec("src>m", {"m": _mapped(MapLength(task_id="src"))}))
    engine.decide()
    _pushed(engine, "src", EncodedXCom(b"5", "json"))
    (change,) = engine.decide()
    assert change.target is State.FAILED
    assert change.error is not None and "not a list or dict" in change.error
    assert engine.outcome() is RunState.FAILED


def test_more_instances_than_max_map_length_fail_the_task() -> None:
    """The product of the lengths is checked against the engine's limit."""
    spec = _spec("m", {"m": _mapped(MapLength(literal=3), MapLength(literal=2))})
    (change,) = RunEngine(spec, max_map_length=5).decide()
    assert change.target is State.FAILED
    assert change.error is not None and "core.max_map_length=5" in change.error
    assert len(RunEngine(spec, max_map_length=6).decide()) == 6


def test_a_zip_is_as_long_as_its_shortest_part_or_its_longest_with_a_fill() -> None:
    """zip() takes the shortest part; zip with a fillvalue the longest."""
    parts = (MapLength(literal=2), MapLength(literal=5))
    assert len(RunEngine(_spec("m", {"m": _mapped(MapLength(parts=parts))})).decide()) == 2
    longest = MapLength(parts=parts, longest=True)
    assert len(RunEngine(_spec("m", {"m": _mapped(longest)})).decide()) == 5


def test_one_failed_instance_fails_the_downstream_at_once() -> None:
    """As in Airflow, all_success counts instances: one failure decides it; the others still run."""
    engine = RunEngine(_spec("m>after", {"m": _mapped(MapLength(literal=2))}))
    engine.decide()
    _run_instance(engine, "m", 0, FAIL)
    assert targets(engine.decide()) == {"after": State.UPSTREAM_FAILED}
    _run_instance(engine, "m", 1)
    assert engine.decide() == []
    assert {key: ti.state for key, ti in engine.tis.items()} == {
        ("m", 0): State.FAILED,
        ("m", 1): State.SUCCESS,
        ("after", -1): State.UPSTREAM_FAILED,
    }
    assert engine.outcome() is RunState.FAILED


def test_an_instance_retries_on_its_own() -> None:
    """A failed try of one instance puts only that instance up for retry."""
    spec = _spec("m", {"m": {**_mapped(MapLength(literal=2)), "retries": 1}})
    engine = RunEngine(spec)
    engine.decide()
    _run_instance(engine, "m", 1, FAIL)
    assert engine.ti("m", 1).state is State.UP_FOR_RETRY
    (change,) = engine.release_retries(NOW + dt.timedelta(days=1))
    assert (change.task_id, change.map_index, change.target) == ("m", 1, State.SCHEDULED)


def test_an_engine_loaded_after_expansion_knows_the_instances() -> None:
    """Loaded from stored instances, it resumes the mapped task without expanding again."""
    instances = {
        ("m", 0): TaskInstance(State.SUCCESS, 1, 1),
        ("m", 1): TaskInstance(State.NONE, 0, 1),
        ("after", -1): TaskInstance(State.NONE, 0, 1),
    }
    engine = RunEngine(_spec("m>after", {"m": _mapped(MapLength(literal=2))}), instances)
    changes = engine.decide()
    assert [(c.task_id, c.map_index, c.target) for c in changes] == [("m", 1, State.SCHEDULED)]
    assert engine.take_expansions() == []
    _run_instance(engine, "m", 1)
    assert targets(engine.decide()) == {"after": State.SCHEDULED}


def test_depends_on_past_waits_for_the_previous_runs_instance() -> None:
    """Ready by its trigger rule, the task still waits until the previous run's one succeeded."""
    engine = RunEngine(
        _spec("t>u", {"t": {"depends_on_past": True, "wait_for_downstream": True}}),
        past={"t": State.SUCCESS, "u": State.RUNNING},
    )
    assert engine.decide() == []  # u of the previous run still runs: wait_for_downstream
    engine.set_past("u", State.FAILED)
    assert engine.decide() == []
    engine.set_past("u", State.SUCCESS)
    assert targets(engine.decide()) == {"t": State.SCHEDULED}


def test_depends_on_past_without_a_previous_run_waits_for_nothing() -> None:
    """The first run (no past at all) runs a depends_on_past task at once, as Airflow does."""
    engine = RunEngine(_spec("t", {"t": {"depends_on_past": True}}))
    assert targets(engine.decide()) == {"t": State.SCHEDULED}


def test_one_success_fires_with_the_first_successful_instance() -> None:
    """A mapped upstream counts per instance: one_success does not wait for the others."""
    spec = _spec(
        "m>after", {"m": _mapped(MapLength(literal=3)), "after": {"trigger_rule": "one_success"}}
    )
    engine = RunEngine(spec)
    engine.decide()
    _run_instance(engine, "m", 2)
    assert targets(engine.decide()) == {"after": State.SCHEDULED}


def test_one_skipped_instance_skips_an_all_success_downstream_but_not_none_failed() -> None:
    """Skipped instances count as skips: all_success skips, none_failed runs (as in Airflow)."""
    spec = _spec(
        "m>strict m>lenient",
        {"m": _mapped(MapLength(literal=2)), "lenient": {"trigger_rule": "none_failed"}},
    )
    engine = RunEngine(spec)
    engine.decide()
    _run_instance(engine, "m", 0, TryResult(TryOutcome.SKIPPED))
    assert targets(engine.decide()) == {"strict": State.SKIPPED}
    _run_instance(engine, "m", 1)
    assert targets(engine.decide()) == {"lenient": State.SCHEDULED}


def _grouped(*lengths: MapLength) -> dict[str, object]:
    return {"map_spec": MapSpec(lengths), "mapped_group": "g"}


def test_tasks_of_a_mapped_group_pair_up_by_map_index() -> None:
    """Instance i of a task in the group waits only for instance i upstream in the group."""
    group = _grouped(MapLength(literal=2))
    engine = RunEngine(_spec("g.a>g.b", {"g.a": group, "g.b": group}))
    changes = engine.decide()
    assert {(c.task_id, c.map_index, c.target) for c in changes} == {
        ("g.a", 0, State.SCHEDULED),
        ("g.a", 1, State.SCHEDULED),
    }
    # g.b expands as soon as g.a did (the group's length is known); its instances wait.
    assert sorted(engine.take_expansions()) == [("g.a", 2), ("g.b", 2)]
    _run_instance(engine, "g.a", 1, FAIL)
    changes = engine.decide()  # only g.b[1] is decided: g.b[0] waits for g.a[0]
    assert [(c.task_id, c.map_index, c.target) for c in changes] == [
        ("g.b", 1, State.UPSTREAM_FAILED)
    ]
    _run_instance(engine, "g.a", 0)
    assert [(c.task_id, c.map_index, c.target) for c in engine.decide()] == [
        ("g.b", 0, State.SCHEDULED)
    ]


def test_a_group_task_pulls_the_same_map_index_and_others_get_every_value() -> None:
    """xcoms_for pairs values inside the group; a task outside gets the sequence."""
    group = _grouped(MapLength(literal=2))
    engine = RunEngine(_spec("g.a>g.b g.a>out", {"g.a": group, "g.b": group}))
    engine.decide()
    for i in range(2):
        value = EncodedXCom(str(i).encode(), "json")
        _run_instance(
            engine, "g.a", i, TryResult(TryOutcome.SUCCESS, xcoms={"return_value": value})
        )
    engine.decide()
    assert engine.xcoms_for("g.b", 1) == {("g.a", "return_value"): EncodedXCom(b"1", "json")}
    sequence = engine.xcoms_for("out")["g.a", "return_value"]
    assert isinstance(sequence, EncodedXComSequence)
    assert sequence.map_indexes == (0, 1)


def test_a_cleared_mapped_task_follows_its_source_new_length() -> None:
    """Loaded after a clear, a mapped task grows or shrinks (surplus instances are removed)."""
    spec = _spec("src>m", {"m": _mapped(MapLength(task_id="src"))})

    def cleared() -> dict[tuple[str, int], TaskInstance]:
        return {
            ("src", -1): TaskInstance(State.NONE, 1, 2),
            **{("m", i): TaskInstance(State.NONE, 1, 2) for i in range(3)},
        }

    engine = RunEngine(spec, cleared(), {})
    # src runs again; m waits with its old instances meanwhile.
    assert targets(engine.decide()) == {"src": State.SCHEDULED}
    _pushed(engine, "src", EncodedXCom(b"[1]", "json", length=1))
    changes = engine.decide()
    assert [(c.map_index, c.target) for c in changes] == [
        (1, State.REMOVED),
        (2, State.REMOVED),
        (0, State.SCHEDULED),
    ]
    _run_instance(engine, "m", 0)
    assert engine.outcome() is RunState.SUCCESS

    grown = RunEngine(spec, cleared(), {})
    grown.decide()
    _pushed(grown, "src", EncodedXCom(b"[1,2,3,4]", "json", length=4))
    grown.decide()
    assert grown.take_additions() == [("m", range(3, 4))]
    assert grown.tis["m", 3].state is State.SCHEDULED
