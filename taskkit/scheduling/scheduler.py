"""The scheduler loop: read the metastore, decide, commit, submit, collect, record.

It is the only module that wires the layers together. Every decision comes
from the pure functions in readiness/selection/transitions; every change is
committed (conditionally) before it is acted on; the loop wakes as soon as a
try finishes and re-evaluates only that task's downstream tasks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import structlog
from sqlalchemy.exc import OperationalError

from taskkit import serde
from taskkit.config import remove_secrets_from_environment
from taskkit.errors import MetastoreUnavailableError, RunUnloadableError, SchedulerFencedError
from taskkit.execution.base import Event, PreviousSuccess, TryFinished, TryStarted
from taskkit.execution.dag_callbacks import DagCallbackRequest, DagCallbackRunner, end_reason
from taskkit.execution.tasklog import DEFAULT_MAX_LOG_BYTES, log_path, write_rejection
from taskkit.execution.workload import Workload
from taskkit.metastore.lease import scheduler_lease
from taskkit.metastore.records import (
    UNSET,
    AssetEventWrite,
    RenderedFieldsWrite,
    TIChange,
)
from taskkit.metastore.schedulers import CountsWanted
from taskkit.metastore.store import Metastore
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import TryOutcome
from taskkit.scheduling.active_run import ActiveRun, run_order
from taskkit.scheduling.asset_runs import AssetRunCreator
from taskkit.scheduling.broken_runs import fail_unloadable_run
from taskkit.scheduling.dag_flags import DagFlagBook
from taskkit.scheduling.dag_processor import sync_dags_folder
from taskkit.scheduling.deferrals import collect_fired, track_deferred
from taskkit.scheduling.engine import Transition
from taskkit.scheduling.executors import make_executor
from taskkit.scheduling.ha import Member, global_occupancy, select_across, shares_metastore
from taskkit.scheduling.pending_writes import TIMED, PendingWrites
from taskkit.scheduling.processor_service import processor_beside, triggerer_beside
from taskkit.scheduling.recovery import adopt_inherited_tries, recover_orphaned_tries
from taskkit.scheduling.run_book import RunBook
from taskkit.scheduling.run_creation import RunCreator, held_back_backfills
from taskkit.scheduling.run_loader import RunLoader
from taskkit.scheduling.run_selection import RunCandidate, select_runs
from taskkit.scheduling.selection import Candidate, Occupancy, Selection, select_tasks
from taskkit.scheduling.signals import stop_requests
from taskkit.scheduling.summary import RunSummary, SchedulerSummary
from taskkit.scheduling.wakeup import MIN_INTERVAL_S as WAKE_UP_MIN_INTERVAL_S
from taskkit.scheduling.wakeup import WakeUps
from taskkit.states import OCCUPYING_STATES, RunState, State

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.execution.base import Executor
    from taskkit.metastore.records import RunRecord
    from taskkit.metastore.schedulers import Reaped, ScheduledElsewhere

log = structlog.get_logger(__name__)

#: How often runs, pools and pause flags changed by the CLI are picked up.
REFRESH_INTERVAL_S = 0.5
#: How often wait reasons are recomputed and written for `taskkit tasks why`...
EXPLAIN_INTERVAL_S = 1.0
#: ... or less often with a large backlog: a round that explains (each waiting task is one
#: reason; 100,000 of them cost ~0.1 s) takes at most this share of the scheduler's CPU.
EXPLAIN_CPU_SHARE = 0.05
#: How long a try's start may wait to be written as `running`, unless other changes are
#: written first: a short try's finish then carries it (one transaction, not two), and
#: starts that come alone share a write. Before it, the try reads as queued. Not with an
#: executor that adopts tries (see `_write_starts`).
START_HOLD_S = 0.02
#: How long running tries may finish after SIGINT/SIGTERM before they are killed.
SHUTDOWN_GRACE_S = 30.0
#: Waits between attempts when the metastore cannot be written; then the scheduler gives up.
WRITE_RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
#: The exit code after a forced stop (a second SIGINT/SIGTERM), as for an interrupted command.
EXIT_FORCED = 130


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Scheduler:
    """Runs DAG runs to completion under every concurrency control of DESIGN.md A5."""

    def __init__(
        self,
        settings: Settings,
        *,
        exit_when_idle: bool = False,
        shutdown_grace_s: float = SHUTDOWN_GRACE_S,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        #: The wall clock. Only the loop reads it; every decision gets the `now` it read.
        self.clock = clock
        self.exit_when_idle = exit_when_idle
        self.shutdown_grace_s = shutdown_grace_s
        self.logs_folder = settings.home / "logs"
        self.summary = SchedulerSummary()
        self.dag_callbacks = DagCallbackRunner(self.logs_folder)
        self.book = RunBook()
        #: Starts not written yet, and since when the oldest waits (see START_HOLD_S).
        self.pending_starts: dict[TaskInstanceKey, TryStarted] = {}
        self.starts_held_at = 0.0
        self.pools: dict[str, int] = {}
        #: Pools whose deferred task instances hold their slots.
        self.pools_with_deferred: frozenset[str] = frozenset()
        #: `taskkit triggerer` beside us, started when a task first defers.
        self.triggerer = triggerer_beside(settings)
        self.dags = DagFlagBook()
        self.pending = PendingWrites()
        self.to_submit: list[Workload] = []
        self.stopping: str | None = None
        #: A second stop signal: running tries are abandoned to be reset on the next start.
        self.forced = False
        self.recovered = False
        self.workload_settings: dict[str, Any] = {}
        if settings.logging.max_task_log_bytes != DEFAULT_MAX_LOG_BYTES:
            self.workload_settings["max_log_bytes"] = settings.logging.max_task_log_bytes
        if settings.core.enable_xcom_pickling:
            self.workload_settings["enable_xcom_pickling"] = True
        #: Consecutive failed attempts to write the metastore (reset by a successful commit).
        self.write_failures = 0
        #: A run finished: refresh at once, so catchup and max_active_runs move on promptly.
        self.refresh_soon = False
        #: Where other processes on this host say a run was triggered (None: not listening).
        self.wakeups: WakeUps | None = None
        self.store: Metastore
        self.creator: RunCreator
        self.asset_runs: AssetRunCreator
        self.executor: Executor
        self.loader: RunLoader
        self.secret_key = b""
        #: On PostgreSQL, this scheduler's membership among several (docs/distributed.md).
        self.ha: Member | None = None
        #: Another scheduler declared this one dead: nothing more may be written.
        self.fenced = False

    @property
    def runs(self) -> dict[tuple[str, str], ActiveRun]:
        """The runs held in memory, by (dag_id, run_id) (the book's)."""
        return self.book.runs

    @property
    def queued_runs(self) -> dict[tuple[str, str], RunRecord]:
        """Queued runs waiting for max_active_runs, by (dag_id, run_id) (the book's)."""
        return self.book.queued_runs

    # -- lifecycle ---------------------------------------------------------------

    def run(self) -> SchedulerSummary:
        """Schedule until idle (with exit_when_idle) or until SIGINT/SIGTERM; then drain."""
        started = time.monotonic()
        self.store = Metastore.open(self.settings.database.sql_alchemy_conn)
        try:
            self.creator = RunCreator(self.store)
            self.asset_runs = AssetRunCreator(self.store)
            self.asset_runs.start()
            self.secret_key = serde.load_secret_key(
                self.settings.home,
                self.settings.core.secret_key,
                self.settings.core.secret_key_file,
            )
            remove_secrets_from_environment()  # workers and tries inherit the environment
            self.loader = RunLoader(self.store, self.secret_key, self.settings.core.max_map_length)
            # A run triggered by another process on this host is looked for at once.
            self.wakeups = WakeUps.listen(self.settings.database.sql_alchemy_conn)
            wakeup_fd = self.wakeups.fileno() if self.wakeups is not None else None
            self.executor = make_executor(
                self.settings, self.secret_key, self._route, wakeup_fd=wakeup_fd
            )
            stops = stop_requests(self._request_stop, lambda: self.stopping is not None)
            processor = processor_beside(self.settings, enabled=self._starts_processor())
            shared = shares_metastore(self.store.engine.url.get_backend_name())
            with (
                scheduler_lease(self.store.engine, shared=shared),
                stops,
                processor,
                contextlib.ExitStack() as membership,
            ):
                if shared:
                    inherit = self._inherit if self.executor.adopts_tries else None
                    self.ha = membership.enter_context(
                        Member.joined(self.store, self.settings, inherit)
                    )
                    self.executor.join(self.ha.id)
                self.executor.start()
                try:
                    self._loop_retrying()
                except KeyboardInterrupt:  # a second SIGINT/SIGTERM: stop at once
                    self.forced = True
                except SchedulerFencedError:  # our state is stale: act on none of it
                    self.fenced = True
                    log.error("scheduler_fenced", scheduler_id=self.ha and self.ha.id)
                    raise
                finally:
                    self._drain()
                    self.triggerer.stop()
            self.summary.import_errors = len(self.store.list_import_errors())
        finally:
            if self.wakeups is not None:
                self.wakeups.close()
            self.store.dispose()
        self.summary.duration_s = time.monotonic() - started
        return self.summary

    def _inherit(self, reaped: Reaped) -> None:
        """Dead schedulers' runs are ours as they were: adopt their tries still on workers."""
        previous = reaped.schedulers
        reset = adopt_inherited_tries(self.store, self.executor, reaped.inherited, previous)
        if reset:
            log.warning("inherited_tries_reset", count=reset, previous=list(reaped.schedulers))

    def _starts_processor(self) -> bool:
        """A long-running scheduler starts `taskkit dag-processor` beside itself by default."""
        return not self.exit_when_idle and not self.settings.scheduler.standalone_dag_processor

    def _route(self, workload: Workload) -> tuple[str, int]:
        """A workload's queue and priority, for executors that route (Celery)."""
        task = self.loader.spec(workload.dag_version_id).tasks[workload.key.task_id]
        return task.queue, task.priority_weight_total

    def _request_stop(self, signal_name: str) -> None:
        self.stopping = signal_name
        log.warning(
            "scheduler_stopping",
            signal=signal_name,
            grace_s=self.shutdown_grace_s,
            hint="running tries may finish; a second signal stops at once and they rerun "
            "on the next start without using a retry",
        )

    def _drain(self) -> None:
        """Stop taking work, let running tries finish within the grace period, record all."""
        grace = 0.0 if self.stopping is None else self.shutdown_grace_s
        # Tries chosen but not yet handed over (the loop was interrupted between deciding
        # and submitting) stay scheduled for the next scheduler: the executor is closing.
        unsent = {w.key for w in self.to_submit}
        self.to_submit = []
        self.pending.drop_unsent(unsent)
        events: list[Event] = []
        if not self.forced:
            try:
                events = self.executor.shutdown(grace)
            except KeyboardInterrupt:
                self.forced = True
        if self.forced or self.fenced:
            # As after a SIGKILL: tries cut short stay queued/running in the metastore, and
            # the next scheduler resets them without spending a try. Their events are dropped.
            self.executor.shutdown(0)
            events = []
            self.summary.exit_code = EXIT_FORCED
        if self.fenced:  # the others adopted our runs: write nothing
            return
        self._handle(events, self.clock())
        self._write_starts(due_only=False)
        try:
            self._commit()
            self._finish_runs()  # runs whose last tries ended during the grace period
            if self.ha is not None and self.executor.adopts_tries and self.executor.running():
                # Tries still running on workers: they are left, with our runs, to the
                # scheduler that declares us dead (at once: our presence lock is freed).
                log.warning("scheduler_hands_over", running=self.executor.running())
            elif self.ha is not None:
                self.ha.leave()
        except OperationalError as exc:  # cannot write: the next start resets these tries
            log.warning("metastore_write_failed_at_exit", error=str(exc.orig or exc)[:200])
        self.dag_callbacks.drain(grace)
        self.summary.stopped_by = (self.stopping or "idle") + (", forced" if self.forced else "")

    # -- the loop ------------------------------------------------------------------

    def _loop_retrying(self) -> None:
        """Run the loop; when the metastore cannot be written, retry with backoff, then give up.

        Nothing is lost meanwhile: pending changes stay pending until a commit
        succeeds (`_commit`), and whatever was committed is consistent, so a
        restart resumes where this scheduler stopped.
        """
        while True:
            try:
                self._loop()
                return
            except OperationalError as exc:
                self.write_failures += 1
                error = " ".join(str(exc.orig or exc).split())[:200]
                if self.write_failures > len(WRITE_RETRY_DELAYS_S):
                    raise MetastoreUnavailableError(
                        f"Cannot write to the metastore "
                        f"({self.store.engine.url.render_as_string(hide_password=True)}): "
                        f"{error}; gave up after {self.write_failures} tries. Everything already "
                        "committed is consistent: fix the database (space, permissions, server) "
                        "and start the scheduler again, it resumes where it stopped."
                    ) from None
                delay = WRITE_RETRY_DELAYS_S[self.write_failures - 1]
                log.warning("metastore_write_failed", error=error, retry_in_s=delay)
                time.sleep(delay)

    def _loop(self) -> None:
        if not self.recovered and self.ha is None:  # with several, claiming resets orphans
            recover_orphaned_tries(self.store, self.executor)
            self.recovered = True
        if self.exit_when_idle and not self.settings.scheduler.standalone_dag_processor:
            self._sync_dags()  # a batch run parses once, up front; else the processor parses
        next_refresh = next_explain = next_beat = refreshed = 0.0
        while self.stopping is None:
            clock = time.monotonic()
            now = self.clock()
            if clock >= next_refresh or self.refresh_soon:
                self._refresh(now)
                refreshed, next_refresh = clock, clock + REFRESH_INTERVAL_S
            if clock >= next_explain:
                cpu = time.process_time()  # a system call: only on the rounds that explain
                self._step(now, explain=True)
                spent = time.process_time() - cpu
                next_explain = clock + max(EXPLAIN_INTERVAL_S, spent / EXPLAIN_CPU_SHARE)
            else:
                self._step(now)
            if clock >= next_beat:
                self._heartbeat()
                next_beat = clock + self.settings.scheduler.heartbeat_sec
            if self.exit_when_idle and self._idle():
                self._refresh(self.clock())
                if self._idle():
                    return
                continue
            events = self.executor.poll(self._poll_timeout(next_refresh, now))
            if self.wakeups is not None and self.wakeups.drain():  # a run was triggered
                next_refresh = min(next_refresh, refreshed + WAKE_UP_MIN_INTERVAL_S)
            self._handle(events, self.clock())

    def _poll_timeout(self, next_refresh: float, now: dt.datetime) -> float:
        if self.to_submit or self.pending or self.refresh_soon:
            return 0.0
        timeout = max(next_refresh - time.monotonic(), 0.0)
        if self.pending_starts:
            timeout = min(timeout, max(self._starts_due() - time.monotonic(), 0.0))
        due = self.book.next_timer()
        if due is not None:
            timeout = min(timeout, max((due - now).total_seconds(), 0.0))
        return timeout if self.ha is None else self.ha.poll_timeout(timeout)

    def _idle(self) -> bool:
        self.dag_callbacks.reap()
        if self.executor.running() or self.dag_callbacks.running():
            return False
        live = [r for r in self.runs.values() if r.dag_id not in self.dags.paused]
        queued = [r for r in self.queued_runs.values() if r.dag_id not in self.dags.paused]
        return not live and not queued

    def _step(self, now: dt.datetime, *, explain: bool = False) -> None:
        """One round of decisions: start runs, settle readiness, release retries, select."""
        self._start_queued_runs(now)
        for run in list(self.runs.values()):
            if run.engine.dirty:
                changes = run.engine.decide()
                if not self._write_expansions(run):
                    continue
                for change in changes:
                    self._record(run, change)
        self._release_due_retries(now)
        self._time_out_runs(now)
        self._select(now, explain=explain)
        self._commit()
        self._finish_runs()

    # -- decisions -------------------------------------------------------------------

    def _start_queued_runs(self, now: dt.datetime) -> None:
        if not self.queued_runs:
            return
        if self.ha is None:
            self._promote_runs(now, list(self.runs.values()))
            return
        with self.ha.section() as section:  # max_active_runs counts every scheduler's runs
            if section is not None:
                self._promote_runs(now, section.running_runs())

    def _promote_runs(self, now: dt.datetime, running: list[ActiveRun] | list[RunRecord]) -> None:
        """Start queued runs, oldest first, within max_active_runs given the `running` ones."""
        active = Counter(run.dag_id for run in running)
        held = held_back_backfills(self.queued_runs.values(), running)
        candidates = [
            RunCandidate(r.dag_id, r.run_id, run_order(r.logical_date, r.id))
            for r in self.queued_runs.values()
            if r.dag_id not in self.dags.paused and (r.dag_id, r.run_id) not in held
        ]
        limits = {
            dag_id: self.dags.max_active_runs(dag_id) or self.settings.core.max_active_runs_per_dag
            for dag_id in {c.dag_id for c in candidates}
        }
        for chosen in select_runs(candidates, active, limits):
            record = self.queued_runs.pop((chosen.dag_id, chosen.run_id))
            if self.store.set_run_state(
                chosen.dag_id, chosen.run_id, RunState.RUNNING, expected=[RunState.QUEUED]
            ):
                self._load_run(record, now)
                log.info("run_started", dag_id=chosen.dag_id, run_id=chosen.run_id)

    def _write_expansions(self, run: ActiveRun) -> bool:
        """Replace the -1 rows of the mapped tasks the engine just expanded by their instances.

        Written at once (before the instances' transitions, which need the
        rows); False if another process changed the run meanwhile: then the
        run is dropped and reloaded from the metastore.
        """
        for task_id, count in run.engine.take_expansions():
            if not self.store.expand_task_instance(run.key(task_id), count):
                self._forget_lost({run.key(task_id)})
                return False
            log.info(
                "task_expanded",
                dag_id=run.dag_id,
                run_id=run.run_id,
                task_id=task_id,
                instances=count,
            )
        for task_id, indexes in run.engine.take_additions():
            max_tries = run.spec.tasks[task_id].max_tries
            if not self.store.add_task_instances(run.key(task_id), indexes, max_tries):
                self._forget_lost({run.key(task_id)})
                return False
            log.info(
                "task_expanded_again",
                dag_id=run.dag_id,
                run_id=run.run_id,
                task_id=task_id,
                instances=indexes.stop,
            )
        return True

    def _record(self, run: ActiveRun, change: Transition, **columns: Any) -> None:
        """Carry out one engine transition: the one place one becomes a metastore change.

        `columns` are what the call site knows besides the state (times, pid, reasons).
        """
        self.pending.record(
            run.key(change.task_id, change.map_index), change, self.secret_key, **columns
        )
        follower = self.book.follower(run)
        if follower is not None:
            follower.engine.set_past(change.task_id, run.engine.state_of(change.task_id))
        if change.target is State.SCHEDULED:
            self.book.scheduled.add(
                run.candidate(change.task_id, self._dag_limit(run), change.map_index)
            )
        elif change.target in TIMED and change.next_retry_at is not None:
            self.book.add_retry(run, change.next_retry_at)
        if track_deferred(self.book.occupancy, run, change):
            self._ensure_triggerer()

    def _dag_limit(self, run: ActiveRun) -> int:
        return run.spec.max_active_tasks or self.settings.core.max_active_tasks_per_dag

    def _release_due_retries(self, now: dt.datetime) -> None:
        for run in self.book.due_retries(now):
            for change in run.engine.release_retries(now):
                # A sensor's "next poke at" reason is stale now; selection writes the next.
                self._record(run, change, next_retry_at=None, wait_reason=None)

    def _time_out_runs(self, now: dt.datetime) -> None:
        """Runs past their dagrun_timeout fail: unfinished tasks skip, running tries stop."""
        for run in self.book.due_timeouts(now):
            log.warning("run_timed_out", dag_id=run.dag_id, run_id=run.run_id)
            for change in run.engine.time_out():
                key = run.key(change.task_id, change.map_index)
                self.book.scheduled.discard([key])
                self.book.wait_reasons.pop(key, None)
                if change.source in OCCUPYING_STATES:
                    self.book.release(run, change.task_id)
                    self.pending_starts.pop(key, None)
                    self.executor.cancel(key, change.try_number)
                self._record(run, change, ended_at=now)

    def _select(self, now: dt.datetime, *, explain: bool) -> None:
        parallelism = min(self.settings.core.parallelism, self.executor.capacity)
        if not self.book.scheduled or (self.book.occupancy.total >= parallelism and not explain):
            return
        if self.ha is None:
            self._select_under(now, self.book.occupancy, parallelism, explain=explain)
            return
        self._commit()  # so the metastore's counts include what we already queued
        own = self._own_candidates()
        # Own is best first: its last is the floor for what of theirs is read.
        floor = own[-1].priority if own else None
        wanted = CountsWanted(self.ha.id, floor, self.settings.core.parallelism)
        with self.ha.section(wanted) as section:
            if section is None:
                return  # another scheduler is queueing: our turn comes next loop, never wait
            counts = section.counts
            selection = select_across(
                own,
                self._candidates_elsewhere(counts.scheduled_elsewhere),
                pools=self.pools,
                parallelism=self.settings.core.parallelism,
                capacity_left=self.executor.capacity - self.book.occupancy.total,
                occupancy=global_occupancy(counts.occupants, counts.deferred_slots),
                explain=explain,
                include_deferred=self.pools_with_deferred,
            )
            self._apply(selection, now, explain=explain)
            self._commit()  # before the lock goes: the next one counts ours

    def _select_under(
        self, now: dt.datetime, occupancy: Occupancy, parallelism: int, *, explain: bool
    ) -> None:
        """Select among our scheduled task instances with these counts; queue and reject."""
        selection = select_tasks(
            self._own_candidates(),
            pools=self.pools,
            parallelism=parallelism,
            occupancy=occupancy,
            presorted=True,
            explain=explain,
            include_deferred=self.pools_with_deferred,
            per_dag=self.book.scheduled.per_dag(),
        )
        self._apply(selection, now, explain=explain)

    def _own_candidates(self) -> list[Candidate]:
        """Our scheduled task instances in priority order, but for paused DAGs'."""
        candidates = self.book.scheduled.ordered()
        if self.dags.paused:
            candidates = [c for c in candidates if c.key.dag_id not in self.dags.paused]
        return candidates

    def _candidates_elsewhere(self, scheduled: list[ScheduledElsewhere]) -> list[Candidate]:
        """Other schedulers' scheduled task instances that may outrank ours, as candidates."""
        found = []
        for other in scheduled:
            if other.dag_id in self.dags.paused:
                continue
            try:
                spec = self.loader.spec(other.dag_version_id)
            except RunUnloadableError:  # its owner fails that run; it outranks nothing
                continue
            task = spec.tasks.get(other.task_id)
            if task is None:
                continue
            found.append(
                Candidate(
                    key=TaskInstanceKey(other.dag_id, other.run_id, other.task_id, other.map_index),
                    priority=task.priority_weight_total,
                    pool=task.pool,
                    pool_slots=task.pool_slots,
                    run_order=run_order(other.logical_date, other.run_pk),
                    max_active_tis_per_dag=task.max_active_tis_per_dag,
                    dag_max_active_tasks=(
                        spec.max_active_tasks or self.settings.core.max_active_tasks_per_dag
                    ),
                    max_active_tis_per_dagrun=task.max_active_tis_per_dagrun,
                )
            )
        return found

    def _apply(self, selection: Selection, now: dt.datetime, *, explain: bool) -> None:
        """Queue what was selected, reject what can never run, note why the others wait."""
        for candidate, reason in selection.reject:
            self._reject(candidate, reason, now)
        for candidate in selection.start:
            self._queue(candidate, now)
        self.book.scheduled.discard(
            [c.key for c in selection.start] + [c.key for c, _ in selection.reject]
        )
        if explain:
            self._note_wait_reasons({k: w.message for k, w in selection.waits.items()})

    def _queue(self, candidate: Candidate, now: dt.datetime) -> None:
        key = candidate.key
        run = self.runs[key.dag_id, key.run_id]
        self.book.wait_reasons.pop(key, None)
        self.book.occupancy.add(
            key.dag_id, key.task_id, candidate.pool, candidate.pool_slots, key.run_id
        )
        if (key.task_id, key.map_index) in run.engine.xcoms and not run.engine.continues_try(
            key.task_id, key.map_index
        ):
            # What an earlier try pushed is gone once this one starts (as in Airflow).
            self.pending.clear_xcoms(key)
        self._record(
            run,
            run.engine.queue(key.task_id, key.map_index),
            queued_at=now,
            heartbeat_at=now,
            wait_reason=None,
            error=None,
        )
        workload = run.workload(
            key.task_id, self.logs_folder, key.map_index, self.loader.previous_success(run)
        )
        if self.workload_settings:  # settings the try needs, when not at their defaults
            workload = attrs.evolve(workload, **self.workload_settings)
        self.to_submit.append(workload)

    def _reject(self, candidate: Candidate, reason: str, now: dt.datetime) -> None:
        """A task that can never run (no such pool, or too big for it) fails with the reason."""
        key = candidate.key
        run = self.runs[key.dag_id, key.run_id]
        change = run.engine.reject(key.task_id, reason, key.map_index)
        path = log_path(self.logs_folder, *_parts(key), change.try_number, map_index=key.map_index)
        write_rejection(path, reason, now)
        self._record(run, change, ended_at=now, wait_reason=reason)
        log.warning(
            "task_rejected",
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            reason=reason,
        )

    def _note_wait_reasons(self, reasons: dict[TaskInstanceKey, str]) -> None:
        """Write each waiting task's reason when it changed, for `taskkit tasks why`."""
        for key, message in reasons.items():
            if self.book.wait_reasons.get(key) != message:
                self.book.wait_reasons[key] = message
                self.pending.add(TIChange(key, expected=State.SCHEDULED, wait_reason=message))
                log.debug(
                    "task_waiting",
                    dag_id=key.dag_id,
                    run_id=key.run_id,
                    task_id=key.task_id,
                    reason=message,
                )

    # -- events from the executor ----------------------------------------------------

    def _handle(self, events: list[Event], now: dt.datetime) -> None:
        for event in events:
            run = self.runs.get((event.key.dag_id, event.key.run_id))
            if run is None:
                continue
            if isinstance(event, TryStarted):
                key = event.key
                if run.engine.start(key.task_id, event.try_number, key.map_index) is not None:
                    if not self.pending_starts:
                        self.starts_held_at = time.monotonic()
                    self.pending_starts[event.key] = event
            elif isinstance(event, TryFinished):
                self._record_finished(run, event, now)

    def _write_starts(self, *, due_only: bool) -> None:
        """Held starts become running: with other changes, or once held START_HOLD_S."""
        if not self.pending_starts:
            return
        # Only where tries die with this scheduler: an executor that adopts tries (Celery)
        # acknowledges an event once its poll is done, and a start acknowledged but never
        # written would be lost with us, and the try sent again (docs/distributed.md).
        hold = due_only and not self.executor.adopts_tries
        if hold and not self.pending and time.monotonic() < self._starts_due():
            return
        for started in self.pending_starts.values():
            self.pending.add(
                TIChange(
                    started.key,
                    expected=State.QUEUED,
                    state=State.RUNNING,
                    started_at=started.at,
                    pid=started.pid,
                    hostname=started.hostname,
                    heartbeat_at=started.at,
                )
            )
        self.pending_starts.clear()

    def _starts_due(self) -> float:
        """When the oldest held start must be written (monotonic clock)."""
        return self.starts_held_at + START_HOLD_S

    def _record_finished(self, run: ActiveRun, event: TryFinished, now: dt.datetime) -> None:
        key = event.key
        result = event.result
        changes = run.engine.finish(
            key.task_id, event.try_number, result, now, map_index=key.map_index
        )
        if not changes:
            return  # a stale report (e.g. of a try reset after a restart)
        self.book.release(run, key.task_id)
        if result.outcome not in (TryOutcome.RESCHEDULED, TryOutcome.DEFERRED):  # try goes on
            self.summary.tries += 1
        if result.outcome is TryOutcome.FAILED:
            self.summary.failed_tries += 1
        own, *skipped = changes
        if result.rendered_fields:
            fields = json.dumps(result.rendered_fields)
            self.pending.rendered_writes.append(RenderedFieldsWrite(key, event.try_number, fields))
        started = self.pending_starts.pop(key, None)
        self._record(
            run,
            own,
            started_at=started.at if started else UNSET,
            hostname=started.hostname if started else UNSET,
            ended_at=now,
            pid=None if own.target in TIMED else (started.pid if started else UNSET),
        )
        for change in skipped:
            self._record(run, change)
        if own.target is State.SUCCESS:
            self.pending.asset_writes.extend(
                AssetEventWrite(key, e.uri, e.extra, e.alias) for e in result.asset_events
            )
        log.info(
            "task_finished",
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=event.try_number,
            state=own.target.value,
            duration_s=round(result.duration_s, 4),
            error=result.error,
        )

    # -- the metastore edge -------------------------------------------------------------

    def _commit(self) -> None:
        """Write every pending change in one transaction, then submit what was queued."""
        self._write_starts(due_only=True)
        if self.pending:
            lost, asset_writes = self.pending.write(self.store)
            if asset_writes and self.asset_runs.notify(e.uri for e in asset_writes):
                self.refresh_soon = True  # create the runs they make due at once
            self.write_failures = 0
            if lost:
                self._forget_lost(lost)
        if self.to_submit:
            workloads, self.to_submit = self.to_submit, []
            for workload in workloads:
                _, payload = self.loader.version(workload.dag_version_id)
                self.executor.submit(workload, payload)

    def _forget_lost(self, keys: set[TaskInstanceKey]) -> None:
        """Someone else changed these task instances: drop our plans and reload their runs."""
        log.warning("transitions_lost", count=len(keys))
        self.to_submit = [w for w in self.to_submit if w.key not in keys]
        for key in keys:
            run = self.runs.pop((key.dag_id, key.run_id), None)
            if run is not None:
                self.book.unload(run)

    def _finish_runs(self) -> None:
        for run in list(self.runs.values()):
            outcome = run.engine.outcome()
            if outcome is None:
                continue
            self.store.set_run_state(run.dag_id, run.run_id, outcome, expected=[RunState.RUNNING])
            if outcome is RunState.SUCCESS:  # later runs of its DAG now have a newer one
                self.loader.forget_previous_successes()
            self._call_dag_callbacks(run, outcome)
            del self.runs[run.dag_id, run.run_id]
            self.book.unload(run)
            self.refresh_soon = True
            record = self.store.get_run(run.dag_id, run.run_id)
            self.summary.runs.append(RunSummary.of(self.store, record, outcome))
            log.info("run_finished", dag_id=run.dag_id, run_id=run.run_id, state=outcome.value)

    def _call_dag_callbacks(self, run: ActiveRun, outcome: RunState) -> None:
        """Start the DAG's callbacks for a finished run in a process of their own."""
        success = outcome is RunState.SUCCESS
        if not (run.spec.success_callbacks if success else run.spec.failure_callbacks):
            return
        reason = end_reason(success, run.engine.timed_out)
        previous = self.loader.previous_success(run) or PreviousSuccess()
        info = run.run_info(previous)
        _, payload = self.loader.version(run.dag_version_id)
        self.dag_callbacks.submit(DagCallbackRequest(payload.payload, info, success, reason))

    def _refresh(self, now: dt.datetime) -> None:
        """Pick up what others changed: new and cleared runs, pools, pause flags, run limits."""
        self.refresh_soon = False
        self.loader.forget_previous_successes()
        self._commit()  # pending results first, so a cleared run is reloaded as it really is
        self.pools, self.pools_with_deferred = self.store.get_pool_limits()
        if any(self.book.occupancy.deferred_per_pool.values()):  # else nothing can resume
            self._resume_deferred()
            self._ensure_triggerer()
        changed = self.dags.refresh(self.store, now)
        self.creator.create_due_runs(
            self.dags.flags,
            changed,
            waiting=Counter(r.dag_id for r in self.queued_runs.values()),
            spec_of=self.loader.spec,
            default_max_active_runs=self.settings.core.max_active_runs_per_dag,
            now=now,
        )
        self.asset_runs.create_due_runs(self.dags.flags, changed, spec_of=self.loader.spec, now=now)
        active = self.store.list_active_runs() if self.ha is None else self.ha.owned_runs()
        seen = set()
        for record in active:
            ident = (record.dag_id, record.run_id)
            seen.add(ident)
            held = self.runs.get(ident)
            if held is not None and record.state is RunState.QUEUED:
                self._reload_cleared(held, record, now)
            elif held is not None:
                continue
            elif record.state is RunState.QUEUED:
                self.queued_runs.setdefault(ident, record)
            else:
                self._load_run(record, now)
        for ident in [i for i in self.runs if i not in seen]:
            self.book.unload(self.runs.pop(ident))
        for ident in [i for i in self.queued_runs if i not in seen]:
            del self.queued_runs[ident]

    def _ensure_triggerer(self) -> None:
        """Deferred tasks need a triggerer: ours, unless one runs elsewhere (standalone)."""
        if not self.settings.scheduler.standalone_triggerer:
            self.triggerer.ensure_running()

    def _resume_deferred(self) -> None:
        """Schedule again the deferred tries whose triggers fired (scheduling/deferrals.py)."""
        collected = []
        for run, change, trigger_id in collect_fired(self.store, self.runs):
            self._record(run, change, next_retry_at=None, wait_reason=None)
            collected.append(trigger_id)
        if collected:
            self._commit()
            self.store.delete_triggers(collected)

    def _reload_cleared(self, held: ActiveRun, record: RunRecord, now: dt.datetime) -> None:
        """A run we run was put back to queued (`tasks clear`): reload it, still running."""
        self.book.unload(self.runs.pop((held.dag_id, held.run_id)))
        if self.store.set_run_state(
            record.dag_id, record.run_id, RunState.RUNNING, expected=[RunState.QUEUED]
        ):
            self._load_run(record, now)
            log.info("run_reloaded", dag_id=record.dag_id, run_id=record.run_id)

    def _load_run(self, record: RunRecord, now: dt.datetime) -> None:
        """Hold a run in memory and register its scheduled, retrying and occupying tasks."""
        try:
            run = self.loader.load(record)
        except RunUnloadableError as exc:  # that run fails alone, with the reason
            fail_unloadable_run(self.store, record, str(exc), now)
            self.summary.runs.append(RunSummary.of(self.store, record, RunState.FAILED))
            return
        self.book.hold(run, record.started_at or now, self._dag_limit(run))
        if run.spec.depends_on_past:
            self._link_past(run)

    def _link_past(self, run: ActiveRun) -> None:
        """Give a run's engine the previous run's states, and keep them current from now on."""
        previous = self.store.get_previous_run(run.dag_id, run.logical_date)
        if previous is None:
            return  # the first run: depends_on_past waits for nothing, as in Airflow
        ident = (previous.dag_id, previous.run_id)
        held = self.runs.get(ident)
        past = held.engine.states() if held is not None else self.loader.task_states(*ident)
        for task_id, state in past.items():
            run.engine.set_past(task_id, state)
        self.book.follow(run, ident)

    def _sync_dags(self) -> None:
        report = sync_dags_folder(self.store, self.settings, self.secret_key)
        log.debug("dags_synced", report=str(report))

    def _heartbeat(self) -> None:
        if self.ha is not None:
            self.ha.beat()
        keys = [
            run.key(*ti_key)
            for run in self.runs.values()
            for ti_key in run.engine.in_state(*OCCUPYING_STATES)
        ]
        for start in range(0, len(keys), 200):
            self.store.heartbeat_task_instances(keys[start : start + 200])


def _parts(key: TaskInstanceKey) -> tuple[str, str, str]:
    return key.dag_id, key.run_id, key.task_id
