"""PURE: which ready task instances start now, and why each of the others waits.

The rules (DESIGN.md A5), applied to candidates in priority order:

1. Global `parallelism` caps queued+running tries; once it is reached nobody starts.
2. A task whose pool does not exist, or is smaller than its pool_slots, is
   rejected: it can never run, so it fails instead of hanging.
3. A task held back by its DAG's `max_active_tasks`, its own
   `max_active_tis_per_dag` (instances of the task across runs) or
   `max_active_tis_per_dagrun` (instances of the task in one run, e.g. of a
   mapped task) just waits; it blocks nobody else.
4. Within one pool, the first (highest-priority) task that does not fit holds
   the pool: lower-priority tasks of that pool wait even if they would fit,
   so the pool drains until the big task fits and is never starved.
   Tasks in other pools are unaffected.

Deferred task instances hold no parallelism or DAG slot; they hold their pool
slots only in the pools named in `include_deferred` (Airflow's pool flag).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping
from typing import TypeVar

import attrs

from taskkit.model.keys import TaskInstanceKey

K = TypeVar("K", bound=Hashable)


@attrs.frozen
class Candidate:
    """A task instance that is ready to run, with what selection needs to know."""

    key: TaskInstanceKey
    priority: int
    pool: str
    pool_slots: int = 1
    run_order: int = 0  #: smaller is older; ties in priority go to the older run
    max_active_tis_per_dag: int | None = None
    dag_max_active_tasks: int | None = None  #: the DAG's limit, already resolved from config
    max_active_tis_per_dagrun: int | None = None


def priority_key(candidate: Candidate) -> tuple[int, int, str, int, str, str]:
    """Sort key: higher priority first, then the older run, then task_id and map index."""
    key = candidate.key
    return (
        -candidate.priority,
        candidate.run_order,
        key.task_id,
        key.map_index,
        key.dag_id,
        key.run_id,
    )


@attrs.define
class Occupancy:
    """Slots held by queued and running tries, derived from task instance states."""

    total: int = 0
    per_dag: Counter[str] = attrs.Factory(Counter)
    per_task: Counter[tuple[str, str]] = attrs.Factory(Counter)
    per_pool: Counter[str] = attrs.Factory(Counter)
    #: Instances of a task in one run: (dag_id, run_id, task_id).
    per_run_task: Counter[tuple[str, str, str]] = attrs.Factory(Counter)
    #: Pool slots of deferred instances, per pool: they count only where the pool
    #: includes deferred tasks (`select_tasks(include_deferred=...)`).
    deferred_per_pool: Counter[str] = attrs.Factory(Counter)

    def add(self, dag_id: str, task_id: str, pool: str, pool_slots: int, run_id: str = "") -> None:
        self.total += 1
        self.per_dag[dag_id] += 1
        self.per_task[dag_id, task_id] += 1
        self.per_pool[pool] += pool_slots
        self.per_run_task[dag_id, run_id, task_id] += 1

    def remove(
        self, dag_id: str, task_id: str, pool: str, pool_slots: int, run_id: str = ""
    ) -> None:
        self.total -= 1
        _take(self.per_dag, dag_id, 1)
        _take(self.per_task, (dag_id, task_id), 1)
        _take(self.per_pool, pool, pool_slots)
        _take(self.per_run_task, (dag_id, run_id, task_id), 1)

    def defer(self, pool: str, pool_slots: int) -> None:
        """A task instance of `pool` is deferred (it left `add`'s counts when its try ended)."""
        self.deferred_per_pool[pool] += pool_slots

    def undefer(self, pool: str, pool_slots: int) -> None:
        """A deferred task instance of `pool` was scheduled again, failed or skipped."""
        self.deferred_per_pool[pool] -= pool_slots

    def pool_used(self, pool: str, include_deferred: Collection[str]) -> int:
        """Slots of `pool` in use: its queued and running tries, and deferred ones if it says so."""
        used = self.per_pool[pool]
        return used + self.deferred_per_pool[pool] if pool in include_deferred else used

    def copy(self) -> Occupancy:
        return Occupancy(
            self.total,
            _copy(self.per_dag),
            _copy(self.per_task),
            _copy(self.per_pool),
            _copy(self.per_run_task),
            self.deferred_per_pool,  # selection never changes it: shared, not copied
        )


def _take(counts: Counter[K], key: K, n: int) -> None:
    """Subtract `n` from `counts[key]`, dropping the key at zero: the counters keep only what
    is held now, so the copy each selection round makes stays small however many tasks ran
    (a 100,000-task run left 100,000 zero entries per counter to copy)."""
    left = counts[key] - n
    if left:
        counts[key] = left
    else:
        counts.pop(key, None)  # as Counter's del, minus its Python-level __delitem__


def _copy(counts: Counter[K]) -> Counter[K]:
    """A copy of `counts`; dict.update skips Counter's generic update (twice as fast, and
    selection copies the occupancy every round)."""
    copied: Counter[K] = Counter()
    dict.update(copied, counts)
    return copied


class WaitKind(enum.Enum):
    """Why a ready task did not start in this round."""

    PARALLELISM = "parallelism"
    DAG_LIMIT = "dag_limit"
    TASK_LIMIT = "task_limit"
    RUN_TASK_LIMIT = "run_task_limit"
    POOL_FULL = "pool_full"
    POOL_HELD = "pool_held"


@attrs.frozen
class Wait:
    """A waiting task's reason, as one line a user can act on."""

    kind: WaitKind
    message: str


#: What selection without explanations keeps as a saturated DAG's reason (never shown).
_NOT_EXPLAINED = Wait(WaitKind.DAG_LIMIT, "")


@attrs.frozen
class Selection:
    """The outcome of one selection round."""

    start: list[Candidate]
    reject: list[tuple[Candidate, str]]
    waits: dict[TaskInstanceKey, Wait]


def select_tasks(
    candidates: Iterable[Candidate],
    *,
    pools: Mapping[str, int],
    parallelism: int,
    occupancy: Occupancy,
    presorted: bool = False,
    explain: bool = True,
    include_deferred: Collection[str] = frozenset(),
    per_dag: Mapping[str, int] | None = None,
) -> Selection:
    """Choose which candidates start now, following the module's rules.

    `occupancy` is not modified. With `presorted`, candidates are taken to be
    in `priority_key` order already (the in-process runner keeps them so), and
    are read only as far as the round goes.
    With `explain=False` no wait reasons are built at all (the decisions are
    the same), which keeps a large backlog cheap for the hot path.
    `include_deferred` names the pools whose deferred instances hold their slots.
    `per_dag`, how many of the candidates each DAG has (an overcount is safe),
    lets a round without explanations stop once only DAGs at max_active_tasks
    have candidates left: a 100,000-task DAG would otherwise be walked whole
    each time one of its slots frees.
    """
    ordered = iter(candidates if presorted else sorted(candidates, key=priority_key))
    used = occupancy.copy()
    start: list[Candidate] = []
    reject: list[tuple[Candidate, str]] = []
    waits: dict[TaskInstanceKey, Wait] = {}
    held_pools: dict[str, Candidate] = {}
    #: DAGs at max_active_tasks, with the one reason each of their other candidates waits.
    saturated: dict[str, Wait] = {}
    dags_left = _DagsLeft(None if explain else per_dag, saturated)
    for candidate in ordered:
        if not dags_left.visit(candidate.key.dag_id):
            break  # only saturated DAGs' candidates remain: each would be skipped
        if used.total >= parallelism:
            if explain:
                message = f"parallelism reached: {used.total} of {parallelism} task slots in use"
                wait = Wait(WaitKind.PARALLELISM, message)
                waits[candidate.key] = wait
                for waiting in ordered:  # the rest
                    waits[waiting.key] = wait
            break
        dag_wait = saturated.get(candidate.key.dag_id)
        if dag_wait is not None:  # its DAG is at max_active_tasks: nothing more to learn
            if explain:
                waits[candidate.key] = dag_wait
            continue
        pool_size = pools.get(candidate.pool)
        if pool_size is None or candidate.pool_slots > pool_size:
            reject.append((candidate, _rejection(candidate, pool_size)))
            continue
        kind = _hold(candidate, used, held_pools, pool_size, include_deferred)
        if kind is None:
            key = candidate.key
            used.add(key.dag_id, key.task_id, candidate.pool, candidate.pool_slots, key.run_id)
            start.append(candidate)
            continue
        wait = _NOT_EXPLAINED
        if explain:
            message = _wait_message(
                kind, candidate, used, held_pools, pool_size, include_deferred=include_deferred
            )
            wait = waits[candidate.key] = Wait(kind, message)
        if kind is WaitKind.POOL_FULL:
            held_pools[candidate.pool] = candidate
        elif kind is WaitKind.DAG_LIMIT:
            saturated[candidate.key.dag_id] = wait
            dags_left.saturate(candidate.key.dag_id)
    return Selection(start=start, reject=reject, waits=waits)


class _DagsLeft:
    """Which DAGs still have unvisited candidates and room under max_active_tasks.

    Without counts (None: not known, or every wait is to be explained) it never stops a round.
    """

    def __init__(self, per_dag: Mapping[str, int] | None, saturated: Mapping[str, Wait]) -> None:
        self.left = dict(per_dag) if per_dag is not None else None
        self.saturated = saturated
        self.open = len(self.left) if self.left is not None else -1  # overcounts only delay

    def visit(self, dag_id: str) -> bool:
        """Count one candidate of `dag_id` as visited; False if none was worth visiting."""
        if self.left is None:
            return True
        if self.open == 0:
            return False
        self.left[dag_id] -= 1
        if self.left[dag_id] == 0 and dag_id not in self.saturated:
            self.open -= 1  # its last candidate, still decided by the caller
        return True

    def saturate(self, dag_id: str) -> None:
        """`dag_id` reached its limit: its later candidates will all be skipped."""
        if self.left is not None and self.left[dag_id] > 0:
            self.open -= 1


def _hold(
    candidate: Candidate,
    used: Occupancy,
    held_pools: Mapping[str, Candidate],
    pool_size: int,
    include_deferred: Collection[str],
) -> WaitKind | None:
    """Why `candidate` cannot start now (checked in rule order), or None if it can."""
    key = candidate.key
    dag_limit = candidate.dag_max_active_tasks
    if dag_limit is not None and used.per_dag[key.dag_id] >= dag_limit:
        return WaitKind.DAG_LIMIT
    task_limit = candidate.max_active_tis_per_dag
    if task_limit is not None and used.per_task[key.dag_id, key.task_id] >= task_limit:
        return WaitKind.TASK_LIMIT
    run_limit = candidate.max_active_tis_per_dagrun
    if (
        run_limit is not None
        and used.per_run_task[key.dag_id, key.run_id, key.task_id] >= run_limit
    ):
        return WaitKind.RUN_TASK_LIMIT
    if candidate.pool in held_pools:
        return WaitKind.POOL_HELD
    if used.pool_used(candidate.pool, include_deferred) + candidate.pool_slots > pool_size:
        return WaitKind.POOL_FULL
    return None


def _wait_message(
    kind: WaitKind,
    candidate: Candidate,
    used: Occupancy,
    held_pools: Mapping[str, Candidate],
    pool_size: int,
    *,
    include_deferred: Collection[str],
) -> str:
    """The one line `taskkit tasks why` shows for a waiting task."""
    key = candidate.key
    if kind is WaitKind.DAG_LIMIT:
        return (
            f"DAG {key.dag_id!r} limit reached: {used.per_dag[key.dag_id]} of "
            f"max_active_tasks={candidate.dag_max_active_tasks} running or queued"
        )
    if kind is WaitKind.TASK_LIMIT:
        return (
            f"task limit reached: {used.per_task[key.dag_id, key.task_id]} of "
            f"max_active_tis_per_dag={candidate.max_active_tis_per_dag} instances of "
            f"{key.task_id!r} active"
        )
    if kind is WaitKind.RUN_TASK_LIMIT:
        return (
            f"task limit reached: {used.per_run_task[key.dag_id, key.run_id, key.task_id]} of "
            f"max_active_tis_per_dagrun={candidate.max_active_tis_per_dagrun} instances of "
            f"{key.task_id!r} active in run {key.run_id!r}"
        )
    if kind is WaitKind.POOL_HELD:
        holder = held_pools[candidate.pool]
        return (
            f"pool {candidate.pool!r} is draining for higher-priority task "
            f"{holder.key.task_id!r} (needs {holder.pool_slots} slots)"
        )
    pool = candidate.pool
    deferred = used.deferred_per_pool[pool] if pool in include_deferred else 0
    by_deferred = f" ({deferred} by deferred tasks: the pool includes deferred)" if deferred else ""
    return (
        f"pool {pool!r} full: {used.pool_used(pool, include_deferred)} of {pool_size} slots "
        f"in use{by_deferred}, needs {candidate.pool_slots}"
    )


def _rejection(candidate: Candidate, pool_size: int | None) -> str:
    pool = candidate.pool
    if pool_size is None:
        return (
            f"pool {pool!r} does not exist: create it with `taskkit pools set {pool} SLOTS` "
            "or use another pool"
        )
    return (
        f"task needs {candidate.pool_slots} slots but pool {pool!r} has only {pool_size}: "
        f"raise the pool's slots (`taskkit pools set {pool} {candidate.pool_slots}`) "
        "or lower pool_slots"
    )
