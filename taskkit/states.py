"""Task and run states, trigger rules and weight rules, with the rules that go with them."""

from __future__ import annotations

import enum


class _StrEnum(str, enum.Enum):
    """A str enum whose str() is its value, so f-strings and JSON show plain names."""

    def __str__(self) -> str:
        return str(self.value)


class State(_StrEnum):
    """The state of a task instance (and, for the run-level subset, of a DAG run)."""

    NONE = "none"  #: created with its run; no decision made yet
    SCHEDULED = "scheduled"  #: scheduler: dependencies met, waiting for a slot
    QUEUED = "queued"  #: scheduler: handed to the executor, occupies its slots
    RUNNING = "running"  #: worker: the try has started
    SUCCESS = "success"  #: worker: the try returned
    FAILED = "failed"  #: worker or scheduler: the last try failed, no retries left
    UP_FOR_RETRY = "up_for_retry"  #: scheduler: a try failed, another comes after retry_delay
    UPSTREAM_FAILED = "upstream_failed"  #: scheduler: the trigger rule can no longer be met
    SKIPPED = "skipped"  #: scheduler: the trigger rule says not to run
    #: worker: a reschedule-mode sensor's poke found nothing; the same try pokes again at
    #: next_retry_at, holding no worker, parallelism or pool slot meanwhile
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    #: scheduler: an instance of a mapped task beyond its length when it was expanded again
    REMOVED = "removed"
    #: worker: the try deferred itself to a trigger; it resumes (same try) when the trigger
    #: fires, holding no worker or parallelism slot meanwhile (pool slots only when the pool
    #: has include_deferred)
    DEFERRED = "deferred"
    # New states go last: the UI's grid letters follow this order (services/runs.STATE_CODES).


class SchedulerState(_StrEnum):
    """The state of a scheduler process in the `scheduler` table (several on PostgreSQL)."""

    ALIVE = "alive"  #: itself: registered and heartbeating; owns its runs
    STOPPED = "stopped"  #: itself: stopped cleanly and released its runs
    DEAD = "dead"  #: another scheduler: its heartbeat went stale; its runs were released


#: A task instance in one of these states will not change again unless cleared.
FINISHED_STATES = frozenset(
    {State.SUCCESS, State.FAILED, State.UPSTREAM_FAILED, State.SKIPPED, State.REMOVED}
)
#: States that hold slots in pools, parallelism and per-DAG limits.
OCCUPYING_STATES = frozenset({State.QUEUED, State.RUNNING})
#: States counted as a failure by trigger rules.
FAILURE_STATES = frozenset({State.FAILED, State.UPSTREAM_FAILED})

#: Which state may follow which; anything else is a bug or a lost race.
ALLOWED_TRANSITIONS: dict[State, frozenset[State]] = {
    State.NONE: frozenset(
        {State.SCHEDULED, State.UPSTREAM_FAILED, State.SKIPPED, State.FAILED, State.REMOVED}
    ),
    State.SCHEDULED: frozenset({State.QUEUED, State.FAILED, State.SKIPPED, State.NONE}),
    State.QUEUED: frozenset(
        {
            State.RUNNING,
            State.SUCCESS,
            State.FAILED,
            State.UP_FOR_RETRY,
            State.UP_FOR_RESCHEDULE,
            State.DEFERRED,
            State.SKIPPED,
            State.SCHEDULED,
        }
    ),
    State.RUNNING: frozenset(
        {
            State.SUCCESS,
            State.FAILED,
            State.UP_FOR_RETRY,
            State.UP_FOR_RESCHEDULE,
            State.DEFERRED,
            State.SKIPPED,
        }
    ),
    State.UP_FOR_RETRY: frozenset({State.SCHEDULED, State.FAILED, State.SKIPPED}),
    State.UP_FOR_RESCHEDULE: frozenset({State.SCHEDULED, State.FAILED, State.SKIPPED}),
    #: scheduled again when its trigger fires, fails or times out (the try resumes)
    State.DEFERRED: frozenset({State.SCHEDULED, State.FAILED, State.SKIPPED}),
    State.SUCCESS: frozenset({State.NONE}),
    State.FAILED: frozenset({State.NONE}),
    State.UPSTREAM_FAILED: frozenset({State.NONE}),
    State.SKIPPED: frozenset({State.NONE}),
    State.REMOVED: frozenset({State.NONE}),
}


class RunState(_StrEnum):
    """The state of a DAG run."""

    QUEUED = "queued"  #: created, waiting for max_active_runs
    RUNNING = "running"  #: its task instances are being scheduled
    SUCCESS = "success"  #: every leaf task succeeded or was skipped
    FAILED = "failed"  #: a leaf task failed or was upstream_failed


FINISHED_RUN_STATES = frozenset({RunState.SUCCESS, RunState.FAILED})

#: Airflow's names for the two enums (`airflow.utils.state`), for DAG files that use them,
#: e.g. `ExternalTaskSensor(allowed_states=[TaskInstanceState.SUCCESS])`.
TaskInstanceState = State
DagRunState = RunState


class RunType(_StrEnum):
    """Why a DAG run exists."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"
    ASSET_TRIGGERED = "asset_triggered"  #: its DAG's asset condition held (new asset events)


class TriggerRule(_StrEnum):
    """When a task runs, given its upstream tasks' states (Airflow's names)."""

    ALL_SUCCESS = "all_success"  #: every upstream task succeeded (the default)
    ALL_FAILED = "all_failed"  #: every upstream task failed or was upstream_failed
    ALL_DONE = "all_done"  #: every upstream task finished, whatever its state
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"  #: all done, none skipped, one success
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"  #: all done and an upstream setup succeeded
    ONE_SUCCESS = "one_success"  #: as soon as one upstream task succeeded
    ONE_FAILED = "one_failed"  #: as soon as one upstream task failed or was upstream_failed
    ONE_DONE = "one_done"  #: as soon as one upstream task succeeded or failed
    NONE_FAILED = "none_failed"  #: all done, none failed (skips are fine)
    NONE_SKIPPED = "none_skipped"  #: all done, none skipped
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"  #: none failed, one success
    ALL_SKIPPED = "all_skipped"  #: every upstream task was skipped
    ALWAYS = "always"  #: at once, whatever happens upstream


class WeightRule(_StrEnum):
    """How a task's effective priority is summed over the graph."""

    DOWNSTREAM = "downstream"  #: own weight plus every distinct descendant's
    UPSTREAM = "upstream"  #: own weight plus every distinct ancestor's
    ABSOLUTE = "absolute"  #: own weight only
