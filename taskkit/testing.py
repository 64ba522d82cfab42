"""The DAG.test() engine: a whole run in the calling process, with the scheduler's own rules.

It uses the same pure functions as the scheduler (readiness, selection,
transitions) and simulates an executor with `parallelism` workers whose
tries finish in the order they started. Nothing touches a database or disk.
"""

from __future__ import annotations

import datetime as dt
import heapq
import io
import time
from collections import deque
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.authoring.context import DagRunInfo, TaskInstanceInfo, base_context, try_context
from taskkit.execution.runtime import execute_try
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import TryOutcome
from taskkit.model.task import DEFAULT_POOL
from taskkit.scheduling.readiness import Readiness, task_readiness
from taskkit.scheduling.ready_queue import ReadyQueue
from taskkit.scheduling.selection import Candidate, Occupancy, select_tasks
from taskkit.scheduling.transitions import after_try, run_outcome
from taskkit.states import RunState, State

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG
    from taskkit.model.dag import DagSpec

#: The defaults of core.parallelism and core.default_pool_task_slot_count.
DEFAULT_PARALLELISM = 32
DEFAULT_POOL_SLOTS = 128
_READINESS_STATE = {
    Readiness.SKIP: State.SKIPPED,
    Readiness.UPSTREAM_FAILED: State.UPSTREAM_FAILED,
}


@attrs.frozen
class DagRunResult:
    """What a DAG.test() run did: final states, start order, XComs, tries and logs."""

    dag_id: str
    run_id: str
    state: RunState
    task_states: dict[str, State]
    order: list[str]
    _xcoms: dict[tuple[str, str], Any] = attrs.field(repr=False, alias="xcoms")
    _tries: dict[str, int] = attrs.field(repr=False, alias="tries")
    _logs: dict[str, list[str]] = attrs.field(repr=False, alias="logs")

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        """The value `task_id` pushed under `key` (its return value by default), or None."""
        self._check(task_id)
        return self._xcoms.get((task_id, key))

    def try_number(self, task_id: str) -> int:
        """How many tries `task_id` started (0 if it never ran)."""
        self._check(task_id)
        return self._tries[task_id]

    def logs(self, task_id: str) -> str:
        """Everything `task_id` printed, try by try, with each failure's reason."""
        self._check(task_id)
        return "".join(self._logs[task_id])

    def _check(self, task_id: str) -> None:
        if task_id not in self.task_states:
            from taskkit.errors import TaskNotFoundError

            raise TaskNotFoundError(f"DAG {self.dag_id!r} has no task {task_id!r}.")


class InMemoryXCom:
    """XCom storage for in-process runs (DAG.test(), `taskkit tasks test`)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    def pull(self, task_id: str, key: str) -> Any:
        return self.values.get((task_id, key))

    def push(self, task_id: str, key: str, value: Any) -> None:
        self.values[task_id, key] = value


def run_dag_test(
    dag: DAG,
    *,
    logical_date: dt.datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    pools: Mapping[str, int] | None = None,
    parallelism: int | None = None,
    retry_delay: dt.timedelta | None = None,
) -> DagRunResult:
    """Run every task of `dag` once (with retries) in this process; see DAG.test()."""
    if parallelism is not None and (isinstance(parallelism, bool) or parallelism < 1):
        raise ValueError(f"DAG.test(parallelism={parallelism!r}): use an int >= 1, or None.")
    return _TestRun(
        dag,
        logical_date=logical_date,
        conf=conf,
        pools=pools,
        parallelism=parallelism,
        retry_delay=retry_delay,
    ).run()


class _TestRun:
    def __init__(
        self,
        dag: DAG,
        *,
        logical_date: dt.datetime | None,
        conf: Mapping[str, Any] | None,
        pools: Mapping[str, int] | None,
        parallelism: int | None,
        retry_delay: dt.timedelta | None,
    ) -> None:
        self.dag = dag
        self.spec: DagSpec = dag.spec
        logical_date = logical_date or dt.datetime.now(dt.timezone.utc)
        if logical_date.tzinfo is None:
            logical_date = logical_date.replace(tzinfo=dt.timezone.utc)
        self.run_id = f"test__{logical_date.isoformat()}"
        self.pools = {DEFAULT_POOL: DEFAULT_POOL_SLOTS, **(pools or {})}
        self.parallelism = parallelism or DEFAULT_PARALLELISM
        self.retry_delay = retry_delay
        run = DagRunInfo(dag.dag_id, self.run_id, logical_date, dict(conf or {}), "test")
        self.base_context = base_context(run, dag.params)
        self.states: dict[str, State] = dict.fromkeys(self.spec.tasks, State.NONE)
        self.tries = dict.fromkeys(self.spec.tasks, 0)
        self.logs: dict[str, list[str]] = {t: [] for t in self.spec.tasks}
        self.xcom = InMemoryXCom()
        self.order: list[str] = []
        self.ready = ReadyQueue()
        self.retries: list[tuple[dt.datetime, str]] = []  # heap of (next_retry_at, task_id)
        self.running: deque[Candidate] = deque()
        self.occupancy = Occupancy()

    def run(self) -> DagRunResult:
        for task in self.spec.roots:
            self._evaluate(task.task_id)
        while True:
            self._release_due_retries()
            self._start_selected()
            if self.running:
                self._run_next()
            elif self.retries:
                wait = (self.retries[0][0] - dt.datetime.now(dt.timezone.utc)).total_seconds()
                time.sleep(max(wait, 0))
            else:
                break
        state = run_outcome((t.task_id for t in self.spec.leaves), self.states)
        return DagRunResult(
            dag_id=self.dag.dag_id,
            run_id=self.run_id,
            state=state or RunState.FAILED,
            task_states=self.states,
            order=self.order,
            xcoms=self.xcom.values,
            tries=self.tries,
            logs=self.logs,
        )

    def _candidate(self, task_id: str) -> Candidate:
        task = self.spec.tasks[task_id]
        return Candidate(
            key=TaskInstanceKey(self.dag.dag_id, self.run_id, task_id),
            priority=task.priority_weight_total,
            pool=task.pool,
            pool_slots=task.pool_slots,
            max_active_tis_per_dag=task.max_active_tis_per_dag,
            dag_max_active_tasks=self.spec.max_active_tasks,
        )

    def _evaluate(self, task_id: str) -> None:
        """Decide a NONE task from its upstream states; follow skips and failures downstream."""
        pending = [task_id]
        while pending:
            current = pending.pop()
            if self.states[current] is not State.NONE:
                continue
            task = self.spec.tasks[current]
            readiness = task_readiness(task, self.states)
            if readiness is Readiness.WAIT:
                continue
            if readiness is Readiness.READY:
                self.states[current] = State.SCHEDULED
                self.ready.add(self._candidate(current))
                continue
            self.states[current] = _READINESS_STATE[readiness]
            pending.extend(task.downstream)

    def _release_due_retries(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        while self.retries and self.retries[0][0] <= now:
            _, task_id = heapq.heappop(self.retries)
            self.states[task_id] = State.SCHEDULED
            self.ready.add(self._candidate(task_id))

    def _start_selected(self) -> None:
        if not self.ready:
            return
        selection = select_tasks(
            self.ready.ordered(),
            pools=self.pools,
            parallelism=self.parallelism,
            occupancy=self.occupancy,
            presorted=True,
            explain=False,
        )
        if not selection.start and not selection.reject:
            return
        self.ready.discard([c.key for c in selection.start] + [c.key for c, _ in selection.reject])
        for candidate, reason in selection.reject:
            task_id = candidate.key.task_id
            self.logs[task_id].append(f"Task cannot run: {reason}\n")
            self._finish(task_id, State.FAILED)
        for candidate in selection.start:
            self.occupancy.add(
                candidate.key.dag_id, candidate.key.task_id, candidate.pool, candidate.pool_slots
            )
            self.states[candidate.key.task_id] = State.QUEUED
            self.order.append(candidate.key.task_id)
            self.running.append(candidate)

    def _run_next(self) -> None:
        candidate = self.running.popleft()
        task_id = candidate.key.task_id
        try_number = self.tries[task_id] = self.tries[task_id] + 1
        spec = self.spec.tasks[task_id]
        operator = self.dag.task_dict[task_id]
        ti = TaskInstanceInfo(
            self.dag.dag_id,
            task_id,
            self.run_id,
            try_number,
            spec.max_tries,
            self.xcom,
            upstream=spec.upstream,
        )
        self.states[task_id] = State.RUNNING
        buffer = io.StringIO()
        with redirect_stdout(buffer), redirect_stderr(buffer):
            result = execute_try(operator, try_context(self.base_context, ti, operator))
        log = buffer.getvalue()
        if result.error:
            log += f"Try {try_number} {result.outcome.value}: {result.error}\n"
        if log:
            self.logs[task_id].append(log)
        if result.outcome is TryOutcome.SUCCESS and result.value is not None:
            self.xcom.push(task_id, "return_value", result.value)
        self.occupancy.remove(self.dag.dag_id, task_id, candidate.pool, candidate.pool_slots)
        transition = after_try(
            spec, try_number, result.outcome, dt.datetime.now(dt.timezone.utc), self.retry_delay
        )
        if transition.state is State.UP_FOR_RETRY:
            self.states[task_id] = State.UP_FOR_RETRY
            assert transition.next_retry_at is not None
            heapq.heappush(self.retries, (transition.next_retry_at, task_id))
        else:
            self._finish(task_id, transition.state)

    def _finish(self, task_id: str, state: State) -> None:
        self.states[task_id] = state
        for downstream in self.spec.tasks[task_id].downstream:
            self._evaluate(downstream)
