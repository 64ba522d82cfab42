"""Selection: which ready tasks start now, under parallelism, limits, pools and priority."""

from __future__ import annotations

from collections import Counter

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from watched import Watched

from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.selection import (
    Candidate,
    Occupancy,
    Selection,
    WaitKind,
    select_tasks,
)


def cand(
    task_id: str,
    priority: int = 1,
    pool: str = "p",
    slots: int = 1,
    *,
    dag: str = "d",
    run: str = "r",
    run_order: int = 0,
    task_limit: int | None = None,
    dag_limit: int | None = None,
) -> Candidate:
    return Candidate(
        TaskInstanceKey(dag, run, task_id), priority, pool, slots, run_order, task_limit, dag_limit
    )


def started(selection: Selection) -> list[str]:
    return [c.key.task_id for c in selection.start]


def test_higher_priority_starts_first() -> None:
    """With one slot, the highest priority_weight_total candidate gets it."""
    selection = select_tasks(
        [cand("a", 7), cand("b", 6), cand("c", 8)],
        pools={"p": 1},
        parallelism=10,
        occupancy=Occupancy(),
    )
    assert started(selection) == ["c"]


def test_priority_ties_go_to_the_older_run_then_task_id() -> None:
    """Equal priorities are broken by run order, then task_id."""
    candidates = [
        cand("b", run="new", run_order=2),
        cand("z", run="old", run_order=1),
        cand("a", run="new", run_order=2),
    ]
    selection = select_tasks(candidates, pools={"p": 2}, parallelism=10, occupancy=Occupancy())
    assert started(selection) == ["z", "a"]


def test_parallelism_caps_the_number_of_active_tries() -> None:
    """Nobody starts beyond parallelism, counting tries already running."""
    occupancy = Occupancy()
    occupancy.add("other", "x", "q", 1)
    selection = select_tasks(
        [cand("a"), cand("b"), cand("c")], pools={"p": 9}, parallelism=2, occupancy=occupancy
    )
    assert started(selection) == ["a"]
    assert {w.kind for w in selection.waits.values()} == {WaitKind.PARALLELISM}


def test_occupancy_forgets_tries_that_ended() -> None:
    """After 1,000 tries came and went, the counts a selection round copies hold only the one
    still running: a 100,000-task run does not make every later round copy 100,000 zeros."""
    occupancy = Occupancy()
    for i in range(1000):
        occupancy.add("big", f"t{i}", "p", 1, run_id="r")
        occupancy.remove("big", f"t{i}", "p", 1, run_id="r")
    occupancy.add("big", "last", "p", 2, run_id="r")
    copy = occupancy.copy()
    assert (copy.total, dict(copy.per_dag), dict(copy.per_pool)) == (1, {"big": 1}, {"p": 2})
    assert dict(copy.per_task) == {("big", "last"): 1}
    assert dict(copy.per_run_task) == {("big", "r", "last"): 1}
    selection = select_tasks([cand("a")], pools={"p": 3}, parallelism=9, occupancy=occupancy)
    assert started(selection) == ["a"]


def test_explain_false_omits_parallelism_waits() -> None:
    """A large backlog held back only by parallelism is not explained when explain=False."""
    selection = select_tasks(
        [cand("a"), cand("b")], pools={"p": 9}, parallelism=1, occupancy=Occupancy(), explain=False
    )
    assert started(selection) == ["a"]
    assert selection.waits == {}


def test_occupancy_is_not_modified() -> None:
    """select_tasks works on a copy of the occupancy it is given."""
    occupancy = Occupancy()
    select_tasks([cand("a")], pools={"p": 1}, parallelism=1, occupancy=occupancy)
    assert occupancy.total == 0


def test_a_task_bigger_than_its_pool_is_rejected_with_the_fix() -> None:
    """A candidate needing more slots than its pool has is rejected, not left waiting."""
    selection = select_tasks(
        [cand("big", slots=5)], pools={"p": 4}, parallelism=9, occupancy=Occupancy()
    )
    [(rejected, reason)] = selection.reject
    assert rejected.key.task_id == "big"
    assert "needs 5 slots but pool 'p' has only 4" in reason
    assert "taskkit pools set p 5" in reason


def test_a_task_in_an_unknown_pool_is_rejected_with_the_fix() -> None:
    """A candidate whose pool does not exist is rejected with how to create it."""
    selection = select_tasks(
        [cand("lost", pool="nowhere")], pools={"p": 4}, parallelism=9, occupancy=Occupancy()
    )
    [(_, reason)] = selection.reject
    assert "pool 'nowhere' does not exist" in reason


def test_a_big_task_holds_its_pool_until_it_fits() -> None:
    """Lower-priority small tasks wait while a higher-priority big task waits for slots."""
    occupancy = Occupancy()
    occupancy.add("d", "running", "p", 2)
    candidates = [cand("big", priority=5, slots=3), cand("small", priority=1)]
    selection = select_tasks(candidates, pools={"p": 4}, parallelism=9, occupancy=occupancy)
    assert started(selection) == []
    assert selection.waits[candidates[0].key].kind is WaitKind.POOL_FULL
    held = selection.waits[candidates[1].key]
    assert held.kind is WaitKind.POOL_HELD
    assert "'big'" in held.message


def test_a_full_pool_does_not_block_other_pools() -> None:
    """A task waiting for pool p does not stop a task in pool q."""
    occupancy = Occupancy()
    occupancy.add("d", "running", "p", 1)
    selection = select_tasks(
        [cand("a", 9, pool="p"), cand("b", 1, pool="q")],
        pools={"p": 1, "q": 1},
        parallelism=9,
        occupancy=occupancy,
    )
    assert started(selection) == ["b"]


def test_dag_and_task_limits_hold_back_only_their_own_candidates() -> None:
    """A task over its DAG's or its own limit waits without holding its pool."""
    occupancy = Occupancy()
    occupancy.add("busy", "x", "other", 1)
    occupancy.add("d", "capped", "other", 1)
    candidates = [
        cand("top", 9, dag="busy", dag_limit=1),
        cand("capped", 8, task_limit=1),
        cand("free", 1),
    ]
    selection = select_tasks(
        candidates, pools={"p": 1, "other": 5}, parallelism=9, occupancy=occupancy
    )
    assert started(selection) == ["free"]
    assert selection.waits[candidates[0].key].kind is WaitKind.DAG_LIMIT
    assert selection.waits[candidates[1].key].kind is WaitKind.TASK_LIMIT
    assert "max_active_tasks=1" in selection.waits[candidates[0].key].message


# -- properties ----------------------------------------------------------------

POOLS = ["p", "q", "r"]
DAGS = ["d1", "d2"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    pools = {p: draw(st.integers(0, 6)) for p in POOLS}
    dag_limits = {d: draw(st.none() | st.integers(1, 4)) for d in DAGS}
    task_limits = {t: draw(st.none() | st.integers(1, 3)) for t in "abcdef"}
    occupancy = Occupancy()
    for _ in range(draw(st.integers(0, 5))):
        pool = draw(st.sampled_from(POOLS))
        occupancy.add(
            draw(st.sampled_from(DAGS)),
            draw(st.sampled_from("abcdef")),
            pool,
            draw(st.integers(1, 3)),
        )
    candidates = []
    for i in range(draw(st.integers(0, 14))):
        dag = draw(st.sampled_from(DAGS))
        task = draw(st.sampled_from("abcdef"))
        candidates.append(
            cand(
                task,
                draw(st.integers(-3, 10)),
                draw(st.sampled_from([*POOLS, "missing"])),
                draw(st.integers(1, 4)),
                dag=dag,
                run=f"run{i}",
                run_order=i,
                task_limit=task_limits[task],
                dag_limit=dag_limits[dag],
            )
        )
    return {
        "pools": pools,
        "parallelism": draw(st.integers(1, 12)),
        "occupancy": occupancy,
        "candidates": candidates,
    }


def _select(s: dict[str, object]) -> Selection:
    return select_tasks(
        s["candidates"],
        pools=s["pools"],  # type: ignore[arg-type]
        parallelism=s["parallelism"],
        occupancy=s["occupancy"],
    )  # type: ignore[arg-type]


def _after(s: dict[str, object], selection: Selection) -> Occupancy:
    occupancy = s["occupancy"].copy()  # type: ignore[attr-defined]
    for c in selection.start:
        occupancy.add(c.key.dag_id, c.key.task_id, c.pool, c.pool_slots)
    return occupancy  # type: ignore[no-any-return]


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_no_pool_parallelism_or_limit_is_ever_exceeded_by_starting(s: dict[str, object]) -> None:
    """Starting the selection never pushes a pool, parallelism, a DAG or a task over its limit."""
    before = s["occupancy"]
    selection = _select(s)
    after = _after(s, selection)
    assert after.total <= max(s["parallelism"], before.total)  # type: ignore[call-overload, attr-defined]
    for pool, slots in s["pools"].items():  # type: ignore[attr-defined]
        if any(c.pool == pool for c in selection.start):
            assert after.per_pool[pool] <= slots
    for c in selection.start:
        if c.dag_max_active_tasks is not None:
            assert after.per_dag[c.key.dag_id] <= c.dag_max_active_tasks
        if c.max_active_tis_per_dag is not None:
            assert after.per_task[c.key.dag_id, c.key.task_id] <= c.max_active_tis_per_dag


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_every_candidate_is_started_rejected_or_told_why_it_waits(s: dict[str, object]) -> None:
    """With explain=True each candidate gets exactly one outcome."""
    selection = _select(s)
    outcomes = Counter(
        [c.key for c in selection.start]
        + [c.key for c, _ in selection.reject]
        + list(selection.waits)
    )
    assert outcomes == Counter(c.key for c in s["candidates"])  # type: ignore[attr-defined]
    assert all(w.message for w in selection.waits.values())


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_within_a_pool_no_lower_priority_task_overtakes_one_waiting_for_slots(
    s: dict[str, object],
) -> None:
    """If a candidate waits for slots in its pool, nothing of lower priority starts in that pool."""
    selection = _select(s)
    for waiting_key, wait in selection.waits.items():
        if wait.kind is not WaitKind.POOL_FULL:
            continue
        waiting = next(c for c in s["candidates"] if c.key == waiting_key)  # type: ignore[attr-defined]
        for c in selection.start:
            if c.pool == waiting.pool:
                assert (c.priority, -c.run_order) >= (waiting.priority, -waiting.run_order)


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_tasks_held_by_limits_never_block_others(s: dict[str, object]) -> None:
    """Removing candidates that wait on DAG or task limits changes nothing for the rest."""
    selection = _select(s)
    limited = {
        k for k, w in selection.waits.items() if w.kind in (WaitKind.DAG_LIMIT, WaitKind.TASK_LIMIT)
    }
    rest = [c for c in s["candidates"] if c.key not in limited]  # type: ignore[attr-defined]
    again = _select({**s, "candidates": rest})
    assert [c.key for c in again.start] == [c.key for c in selection.start]


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_a_waiting_pool_never_blocks_another_pool(s: dict[str, object]) -> None:
    """Without shared limits, starts in one pool do not depend on other pools' candidates."""
    unlimited = [
        attrs.evolve(c, max_active_tis_per_dag=None, dag_max_active_tasks=None)
        for c in s["candidates"]
    ]  # type: ignore[attr-defined]
    s = {**s, "candidates": unlimited, "parallelism": 100}
    selection = _select(s)
    for pool in POOLS:
        alone = _select({**s, "candidates": [c for c in unlimited if c.pool == pool]})
        assert [c.key for c in selection.start if c.pool == pool] == [c.key for c in alone.start]


def test_max_active_tis_per_dagrun_caps_a_task_within_one_run_only() -> None:
    """Instances of a mapped task in one run wait past the limit; another run's are separate."""
    occupancy = Occupancy()
    occupancy.add("d", "m", "p", 1, "r1")

    def instance(run: str, index: int) -> Candidate:
        key = TaskInstanceKey("d", run, "m", index)
        return Candidate(key, 1, "p", max_active_tis_per_dagrun=2)

    candidates = [instance("r1", 1), instance("r1", 2), instance("r2", 0), instance("r2", 1)]
    selection = select_tasks(candidates, pools={"p": 9}, parallelism=9, occupancy=occupancy)
    assert {(c.key.run_id, c.key.map_index) for c in selection.start} == {
        ("r1", 1),
        ("r2", 0),
        ("r2", 1),
    }
    wait = selection.waits[candidates[1].key]
    assert wait.kind is WaitKind.RUN_TASK_LIMIT
    assert "max_active_tis_per_dagrun=2" in wait.message


def test_deferred_instances_hold_pool_slots_only_in_pools_that_include_them() -> None:
    """A deferred task's slot of a 1-slot pool blocks the pool only with include_deferred."""
    occupancy = Occupancy()
    occupancy.defer("gate", 1)
    waiting = [Candidate(TaskInstanceKey("d", "r", "t"), priority=1, pool="gate")]

    free = select_tasks(waiting, pools={"gate": 1}, parallelism=4, occupancy=occupancy)
    held = select_tasks(
        waiting,
        pools={"gate": 1},
        parallelism=4,
        occupancy=occupancy,
        include_deferred={"gate"},
    )

    assert [c.key.task_id for c in free.start] == ["t"]
    assert held.start == []
    assert held.waits[waiting[0].key].message == (
        "pool 'gate' full: 1 of 1 slots in use (1 by deferred tasks: the pool includes "
        "deferred), needs 1"
    )
    assert occupancy.total == 0  # deferred tasks never count against parallelism


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.integers(0, 2))
def test_counting_candidates_per_dag_changes_no_decision(s: dict[str, object], extra: int) -> None:
    """A round told how many candidates each DAG has (an overcount too) decides exactly the
    same, though it stops walking once only DAGs at max_active_tasks are left."""
    counts = Counter(c.key.dag_id for c in s["candidates"])  # type: ignore[attr-defined]
    for dag in DAGS[:extra]:
        counts[dag] += 1  # candidates filtered out after counting (a paused DAG's)
    plain, counted = (
        select_tasks(
            s["candidates"],  # type: ignore[arg-type]
            pools=s["pools"],  # type: ignore[arg-type]
            parallelism=s["parallelism"],  # type: ignore[arg-type]
            occupancy=s["occupancy"],  # type: ignore[arg-type]
            explain=False,
            per_dag=per_dag,
        )
        for per_dag in (None, counts)
    )
    assert counted == plain


def test_a_saturated_dag_is_not_walked_to_its_end() -> None:
    """Once the only DAG with candidates left is at its limit, the round stops looking."""
    seen: list[str] = []
    selection = select_tasks(
        Watched((cand(f"t{i:03d}", 1, "p", dag="big", dag_limit=2) for i in range(100)), seen),
        pools={"p": 128},
        parallelism=32,
        occupancy=Occupancy(),
        presorted=True,
        explain=False,
        per_dag={"big": 100},
    )
    assert started(selection) == ["t000", "t001"]
    # t002 found the DAG full; t003 was fetched and dropped, t004-t099 never read.
    assert seen == ["t000", "t001", "t002", "t003"]
