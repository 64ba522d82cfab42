"""DAG.test(): a whole run in the calling process, driven through the scheduler's run engine.

The run's bookkeeping (readiness, retries, skips, XComs) is the same
RunEngine the scheduler drives; this module only plays the executor: a
simulated pool of `parallelism` workers whose tries run here, one after
another, in the order they started. Nothing touches a database or disk:
variables and connections come from the environment and the run's
`variables=` / `connections=` (over the source in force, if any, such as
the metastore under `taskkit dags test`), and what tries write stays in
the run.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.authoring.context import DagRunInfo, dag_base_context
from taskkit.authoring.masking import MaskingFilter
from taskkit.authoring.params import resolve_params
from taskkit.authoring.secrets import MemorySecrets, current_source, use_source
from taskkit.errors import TaskNotFoundError
from taskkit.execution.runtime import decode_xcom, run_try
from taskkit.execution.workload import Workload
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import Deferral, TryOutcome
from taskkit.model.task import DEFAULT_POOL
from taskkit.scheduling.engine import (
    DEFAULT_MAX_MAP_LENGTH,
    RunEngine,
    TIKey,
    Transition,
    resumed_with,
)
from taskkit.scheduling.ready_queue import ReadyQueue
from taskkit.scheduling.selection import Candidate, Occupancy, select_tasks
from taskkit.states import RunState, State

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG

#: The defaults of core.parallelism and core.default_pool_task_slot_count.
DEFAULT_PARALLELISM = 32
DEFAULT_POOL_SLOTS = 128
#: How a try's `logging` records read in its log, as in a worker's task log.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


@attrs.frozen
class AssetEvent:
    """An asset event a DAG.test() try reported: the asset, its extra and the task."""

    uri: str
    extra: dict[str, Any]
    task_id: str
    map_index: int = -1


@attrs.frozen
class DagRunResult:
    """What a DAG.test() run did: final states, start order, XComs, tries and logs.

    `task_states` has one state per task: a mapped task's overall state
    (failed if an instance failed, skipped if all were skipped, else
    success). Its instances are read with `task_states_of`, and
    `xcom`/`try_number`/`logs` with `map_index`.
    """

    dag_id: str
    run_id: str
    state: RunState
    task_states: dict[str, State]
    order: list[str]
    _xcoms: Mapping[TIKey, Mapping[str, Any]] = attrs.field(repr=False, alias="xcoms")
    _tries: dict[TIKey, int] = attrs.field(repr=False, alias="tries")
    _logs: dict[TIKey, list[str]] = attrs.field(repr=False, alias="logs")
    _instances: dict[str, dict[int, State]] = attrs.field(repr=False, alias="instances")
    _mapped: frozenset[str] = attrs.field(repr=False, alias="mapped", default=frozenset())
    _rendered: dict[TIKey, Mapping[str, Any]] = attrs.field(
        repr=False, alias="rendered", factory=dict
    )
    _map_names: dict[TIKey, str] = attrs.field(repr=False, alias="map_names", factory=dict)
    #: The asset events the run's successful tries reported, in the order they finished.
    #: DAG.test() records nothing in a metastore: no other DAG is triggered by them.
    asset_events: list[AssetEvent] = attrs.field(factory=list)

    def task_states_of(self, task_id: str) -> dict[int, State]:
        """The state of each instance of `task_id` by map index ({-1: state} if not mapped)."""
        self._check(task_id)
        return dict(self._instances[task_id])

    def xcom(self, task_id: str, key: str = "return_value", *, map_index: int | None = None) -> Any:
        """The value `task_id` pushed under `key` (its return value by default), or None.

        For a mapped task: the list of its instances' values in map-index
        order (those that pushed none left out), or one instance's with `map_index`.
        """
        self._check(task_id)
        indexes = self._instances[task_id]
        if map_index is None and task_id in self._mapped:
            found = [self._xcoms.get((task_id, i), {}).get(key) for i in sorted(indexes) if i >= 0]
            return [decode_xcom(encoded) for encoded in found if encoded is not None]
        encoded = self._xcoms.get((task_id, -1 if map_index is None else map_index), {}).get(key)
        return None if encoded is None else decode_xcom(encoded)

    def rendered_map_index(self, task_id: str, map_index: int) -> str | None:
        """Instance `map_index`'s map_index_template as its try rendered it (None without one)."""
        self._check(task_id)
        return self._map_names.get((task_id, map_index))

    def try_number(self, task_id: str, *, map_index: int = -1) -> int:
        """How many tries `task_id` (instance `map_index` of a mapped task) started."""
        self._check(task_id)
        return self._tries.get((task_id, map_index), 0)

    def logs(self, task_id: str, *, map_index: int | None = None) -> str:
        """Everything `task_id` printed or logged, try by try, with each failure's reason.

        For a mapped task, every instance's log in map-index order unless `map_index` is given.
        """
        self._check(task_id)
        if map_index is not None:
            return "".join(self._logs.get((task_id, map_index), []))
        return "".join(
            "".join(self._logs.get((task_id, i), [])) for i in sorted(self._instances[task_id])
        )

    def rendered_fields(self, task_id: str, *, map_index: int = -1) -> dict[str, Any]:
        """The template fields as `task_id`'s last try rendered them ({} if none held anything).

        Values are what the scheduler stores and the UI shows: JSON-ready,
        each cut with a note past execution.rendered.MAX_FIELD_CHARS.
        """
        self._check(task_id)
        return dict(self._rendered.get((task_id, map_index), {}))

    def _check(self, task_id: str) -> None:
        if task_id not in self.task_states:
            raise TaskNotFoundError(f"DAG {self.dag_id!r} has no task {task_id!r}.")


def _run_dates(
    dag: DAG, logical_date: dt.datetime
) -> tuple[dt.datetime, dt.datetime, dt.datetime | None]:
    """The run's data interval, as Airflow's DAG.test() infers it for a manual run, and the
    schedule point before its logical date (Airflow 2's DAG.test() gave that as
    `prev_execution_date`, its run not being marked as triggered by hand)."""
    if dag.schedule is None:  # as Timetable.manual_interval: [logical_date, logical_date] in UTC
        when = logical_date.astimezone(dt.timezone.utc)
        return when, when, None
    # Lazy: the timetable rules cost ~5 ms of imports that an unscheduled DAG's first test
    # need not pay (goal: a cold DAG.test() near its warm cost).
    from taskkit.scheduling.timetable import Timetable

    timetable = Timetable.of(dag)
    return (*timetable.manual_interval(logical_date), timetable.previous_point(logical_date))


def run_dag_test(
    dag: DAG,
    *,
    logical_date: dt.datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    pools: Mapping[str, int] | None = None,
    parallelism: int | None = None,
    retry_delay: dt.timedelta | None = None,
    max_map_length: int | None = None,
    variables: Mapping[str, Any] | None = None,
    connections: Mapping[str, Any] | None = None,
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
        max_map_length=max_map_length or DEFAULT_MAX_MAP_LENGTH,
        secrets=MemorySecrets.seeded(variables, connections, parent=current_source()),
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
        max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
        secrets: MemorySecrets | None = None,
    ) -> None:
        self.dag = dag
        self.secrets = secrets or MemorySecrets()
        self.engine = RunEngine(dag.spec, max_map_length=max_map_length)
        logical_date = logical_date or dt.datetime.now(dt.timezone.utc)
        if logical_date.tzinfo is None:
            logical_date = logical_date.replace(tzinfo=dt.timezone.utc)
        self.logical_date = logical_date
        self.run_id = f"test__{logical_date.isoformat()}"
        self.conf = dict(conf or {})
        resolve_params(dag.params, self.conf, dag_id=dag.dag_id)  # as a trigger would
        start, end, previous_point = _run_dates(dag, logical_date)
        self.run_info = DagRunInfo(
            dag.dag_id,
            self.run_id,
            logical_date,
            self.conf,
            "test",
            start,
            end,
            previous_point=previous_point,
        )
        self.base = dag_base_context(self.run_info, dag)  # shared by every try, built once
        self.output = _Output()
        self.pools = {DEFAULT_POOL: DEFAULT_POOL_SLOTS, **(pools or {})}
        self.parallelism = parallelism or DEFAULT_PARALLELISM
        self.retry_delay = retry_delay
        self.logs: dict[TIKey, list[str]] = {}
        self.rendered: dict[TIKey, Mapping[str, Any]] = {}
        self.asset_events: list[AssetEvent] = []
        self.order: list[str] = []
        self.ready = ReadyQueue()
        self.running: deque[Candidate] = deque()
        self.occupancy = Occupancy()
        #: When dagrun_timeout ends the run (time.monotonic()), if it has one.
        self.deadline: float | None = None

    def run(self) -> DagRunResult:
        with _captured(self.output), use_source(self.secrets):
            return self._run()

    def _run(self) -> DagRunResult:
        engine = self.engine
        timeout = self.dag.spec.dagrun_timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
        while True:
            if self._past_deadline():
                self._time_out()
            self._apply(engine.decide())
            if engine.next_retry_at() is not None:
                self._apply(engine.release_retries(_utcnow()))
            self._start_selected()
            if self.running:
                self._run_next()
            elif engine.dirty:
                continue
            elif (retry_at := engine.next_retry_at()) is not None:
                time.sleep(max((retry_at - _utcnow()).total_seconds(), 0))
            else:
                break
        instances: dict[str, dict[int, State]] = {t: {} for t in self.dag.spec.tasks}
        for (task_id, map_index), ti in engine.tis.items():
            instances[task_id][map_index] = ti.state
        state = engine.outcome() or RunState.FAILED
        succeeded = state is RunState.SUCCESS
        if self.dag.on_success_callback or self.dag.on_failure_callback:
            # Imported only for a DAG with callbacks: the module's process machinery
            # (pickle, pathlib) is ~5 ms, half of a cold 100-task DAG.test().
            from taskkit.execution.dag_callbacks import call_dag_callbacks, end_reason

            call_dag_callbacks(
                self.dag,
                self.run_info,
                success=succeeded,
                reason=end_reason(succeeded, engine.timed_out),
            )
        return DagRunResult(
            dag_id=self.dag.dag_id,
            run_id=self.run_id,
            state=state,
            task_states=engine.states(),
            order=self.order,
            xcoms=engine.xcoms,
            tries={key: ti.try_number for key, ti in engine.tis.items()},
            logs=self.logs,
            instances=instances,
            mapped=frozenset(t for t, spec in self.dag.spec.tasks.items() if spec.map_spec),
            rendered=self.rendered,
            map_names={
                key: ti.rendered_map_index
                for key, ti in engine.tis.items()
                if ti.rendered_map_index is not None
            },
            asset_events=self.asset_events,
        )

    def _time_out(self) -> None:
        """dagrun_timeout passed: skip what is left, a stopped try too, as the scheduler does."""
        for change in self.engine.time_out():
            self.logs.setdefault((change.task_id, change.map_index), []).append(
                f"Skipped: {change.error}\n"
            )
        self.ready = ReadyQueue()
        self.running.clear()

    def _apply(self, transitions: list[Transition]) -> None:
        for change in transitions:
            if change.target is State.SCHEDULED:
                self.ready.add(self._candidate(change.task_id, change.map_index))
            elif change.error and change.source is State.NONE:  # e.g. could not be expanded
                log = self.logs.setdefault((change.task_id, change.map_index), [])
                log.append(f"Task failed: {change.error}\n")

    def _candidate(self, task_id: str, map_index: int) -> Candidate:
        task = self.dag.spec.tasks[task_id]
        return Candidate(
            key=TaskInstanceKey(self.dag.dag_id, self.run_id, task_id, map_index),
            priority=task.priority_weight_total,
            pool=task.pool,
            pool_slots=task.pool_slots,
            max_active_tis_per_dag=task.max_active_tis_per_dag,
            dag_max_active_tasks=self.dag.spec.max_active_tasks,
            max_active_tis_per_dagrun=task.max_active_tis_per_dagrun,
        )

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
            key = candidate.key
            self.logs.setdefault((key.task_id, key.map_index), []).append(
                f"Task cannot run: {reason}\n"
            )
            self.engine.reject(key.task_id, reason, key.map_index)
        for candidate in selection.start:
            key = candidate.key
            self.occupancy.add(
                key.dag_id, key.task_id, candidate.pool, candidate.pool_slots, key.run_id
            )
            if not self.engine.continues_try(key.task_id, key.map_index):
                self.order.append(key.task_id)  # a rescheduled sensor's next poke is no new try
            self.engine.queue(key.task_id, key.map_index)
            self.running.append(candidate)

    def _run_next(self) -> None:
        candidate = self.running.popleft()
        task_id, map_index = candidate.key.task_id, candidate.key.map_index
        ti = self.engine.tis[task_id, map_index]
        self.engine.start(task_id, ti.try_number, map_index)
        buffer = self.output.target = io.StringIO()
        try:
            # A try still running at dagrun_timeout is stopped, as the scheduler kills it.
            result = run_try(
                self.dag,
                self._workload(candidate.key),
                self.base,
                stop_at=self.deadline,
                lookup=self._lookup,
            )
        finally:
            self.output.target = None
        log = buffer.getvalue()
        self.rendered[task_id, map_index] = result.rendered_fields
        if result.outcome is TryOutcome.SUCCESS:
            self.asset_events.extend(
                AssetEvent(e.uri, dict(e.extra), task_id, map_index) for e in result.asset_events
            )
        if result.error:
            log += f"Try {ti.try_number} {result.outcome.value}: {result.error}\n"
        if log:
            self.logs.setdefault((task_id, map_index), []).append(log)
        self.occupancy.remove(
            self.dag.dag_id, task_id, candidate.pool, candidate.pool_slots, self.run_id
        )
        if self._past_deadline():
            self._time_out()  # the try was stopped: its task is skipped and its result stale
        self._apply(
            self.engine.finish(
                task_id, ti.try_number, result, _utcnow(), self.retry_delay, map_index=map_index
            )
        )
        if result.deferral is not None and ti.state is State.DEFERRED:
            self._run_trigger(task_id, map_index, result.deferral)

    def _run_trigger(self, task_id: str, map_index: int, deferral: Deferral) -> None:
        """Run a deferred try's trigger here and now, then resume the try (Airflow's dag.test)."""
        # Imported only when a task defers: asyncio and the trigger's module cost start-up time.
        from taskkit.triggers.running import run_inline

        event, error = run_inline(deferral.classpath, deferral.kwargs, deferral.timeout_at)
        outcome = "fired" if error is None else f"failed: {error.splitlines()[0]}"
        self.logs.setdefault((task_id, map_index), []).append(
            f"Trigger {deferral.classpath} {outcome}\n"
        )
        ti = self.engine.tis[task_id, map_index]
        method, kwargs = resumed_with(ti.next_method, ti.next_kwargs, event, error)
        self._apply([self.engine.resume(task_id, method, kwargs, map_index=map_index)])

    def _lookup(self, task_id: str, key: str, map_index: int | None) -> Any:
        """A value of any task of the run, for a try pulling outside its ancestors."""
        return self.engine.xcom_values(task_id, map_index).get((task_id, key))

    def _past_deadline(self) -> bool:
        return (
            self.deadline is not None
            and time.monotonic() >= self.deadline
            and not self.engine.timed_out
        )

    def _workload(self, key: TaskInstanceKey) -> Workload:
        ti = self.engine.tis[key.task_id, key.map_index]
        timeout = self.dag.spec.tasks[key.task_id].execution_timeout
        return Workload(
            key=key,
            try_number=ti.try_number,
            max_tries=ti.max_tries,
            dag_version_id=0,
            logical_date=self.logical_date,
            conf=self.conf,
            run_type="test",
            log_path="",
            upstream_xcoms=self.engine.xcoms_for(key.task_id, key.map_index),
            execution_timeout_s=timeout.total_seconds() if timeout is not None else None,
            first_poke_at=ti.first_poke_at,
            next_method=ti.next_method,
            next_kwargs=ti.next_kwargs,
        )


class _Output(io.TextIOBase):
    """Where printed and logged text goes during a DAG.test() run: the running try's log.

    Set up once per run (a logging handler per try would cost more than the
    try); outside a try, text goes to the real stdout.
    """

    def __init__(self) -> None:
        self.target: io.StringIO | None = None

    def write(self, text: str) -> int:
        return (self.target or sys.__stdout__ or io.StringIO()).write(text)


@contextmanager
def _captured(output: _Output) -> Iterator[None]:
    """Send stdout, stderr and `logging` records to `output`, as a worker's task log has them."""
    root = logging.getLogger()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(MaskingFilter())
    level = root.level
    root.addHandler(handler)
    if not level or level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        with redirect_stdout(output), redirect_stderr(output):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
