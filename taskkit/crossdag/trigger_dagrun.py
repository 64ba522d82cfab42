"""TriggerDagRunOperator: a task that starts a run of another DAG, and may wait for it.

The try creates the run itself, through the service behind `taskkit dags
trigger` (conf checked against the target's params, run-id rules, one run
per id), in the metastore its settings name; a running scheduler picks the
run up on its next refresh, as it does one triggered from the CLI (ADR 0008).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring.baseoperator import BaseOperator
from taskkit.errors import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSkipException,
    DagNotFoundError,
    DagPausedError,
    DuplicateRunError,
    TriggeredRunFailedError,
)
from taskkit.states import RunState
from taskkit.triggers.external_task import DagStateTrigger

if TYPE_CHECKING:
    from taskkit.authoring.context import Context
    from taskkit.config import Settings
    from taskkit.metastore import Metastore

#: The XCom key the triggered run's id is pushed under (Airflow's XCOM_RUN_ID).
XCOM_RUN_ID = "trigger_run_id"


class TriggerDagRunOperator(BaseOperator):
    """Creates a run of `trigger_dag_id` and pushes its run id (XCom `trigger_run_id`).

    The run's id is `trigger_run_id`, else `manual__<logical date>`; its
    logical date is `logical_date` (a datetime or an ISO string), else now.
    A run with that id already there fails the task, unless `reset_dag_run`
    (clear it to run again) or `skip_when_already_exists` (skip). With
    `wait_for_completion` the try waits as a reschedule-mode sensor does,
    holding no slot: every `poke_interval` seconds a turn of the same try
    reads the run's state, until it is in `allowed_states` (success) or
    `failed_states` (the task fails). `fail_when_dag_is_paused` fails the
    task instead of creating a run a paused DAG would not start.
    With `deferrable=True` it waits in the triggerer instead (a
    DagStateTrigger polling every `poke_interval`), deferred, holding no slot.
    """

    template_fields: ClassVar[tuple[str, ...]] = (
        "trigger_dag_id",
        "trigger_run_id",
        "logical_date",
        "conf",
        "wait_for_completion",
        "skip_when_already_exists",
    )

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: Mapping[str, Any] | str | None = None,
        logical_date: dt.datetime | str | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: dt.timedelta | float = 60,
        allowed_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(trigger_dag_id, str) or not trigger_dag_id:
            raise self._fail(f"trigger_dag_id must be a DAG id, got {trigger_dag_id!r}.")
        if not isinstance(logical_date, (dt.datetime, str, type(None))):
            raise self._fail(
                f"logical_date must be a datetime, an ISO string or None, got {logical_date!r}."
            )
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = self._optional_str("trigger_run_id", trigger_run_id)
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = self._check_bool("reset_dag_run", reset_dag_run)
        self.wait_for_completion = wait_for_completion
        self.poke_interval = self._as_delta("poke_interval", poke_interval).total_seconds()
        self.allowed_states = self._run_states("allowed_states", allowed_states, RunState.SUCCESS)
        self.failed_states = self._run_states("failed_states", failed_states, RunState.FAILED)
        both = [s for s in self.allowed_states if s in self.failed_states]
        if both:
            # Airflow accepts this (its own example DAGs do it) and checks failed_states first.
            self.dag.warnings.append(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: {', '.join(both)} is in both "
                "allowed_states and failed_states; failed_states wins, as in Airflow, so a "
                "triggered run ending so fails this task. Remove it from one of them."
            )
        self.skip_when_already_exists = skip_when_already_exists
        self.fail_when_dag_is_paused = self._check_bool(
            "fail_when_dag_is_paused", fail_when_dag_is_paused
        )
        self.deferrable = self._check_bool("deferrable", deferrable)

    def _run_states(self, name: str, given: Iterable[str] | None, default: RunState) -> list[str]:
        states = [default.value] if given is None else [str(s) for s in given]
        valid = {s.value for s in RunState}
        wrong = [s for s in states if s not in valid]
        if wrong:
            raise self._fail(f"{name}: {wrong[0]!r} is not a run state; use {', '.join(valid)}.")
        return states

    def execute(self, context: Context) -> None:
        ti = context["ti"]
        config, store = _open_metastore()
        try:
            if ti.first_reschedule_date is None:  # this try's first turn: trigger
                run_id = self._trigger(config, store)
                ti.xcom_push(XCOM_RUN_ID, run_id)
                print(f"Triggered run {run_id!r} of DAG {self.trigger_dag_id!r}")
            else:  # a later turn of a waiting try: the run it triggered, from its own XCom
                run_id = ti.xcom_pull(key=XCOM_RUN_ID)
                if self._finished(store, run_id):
                    return
            if self.wait_for_completion and self.deferrable:
                self.defer(
                    trigger=DagStateTrigger(
                        self.trigger_dag_id,
                        [*self.allowed_states, *self.failed_states],
                        [run_id],
                        self.poke_interval,
                    ),
                    method_name="execute_complete",
                    kwargs={"run_id": run_id},
                )
            if self.wait_for_completion:
                raise AirflowRescheduleException(
                    _utcnow() + dt.timedelta(seconds=self.poke_interval)
                )
        finally:
            store.dispose()

    def execute_complete(self, context: Context, event: Any = None, run_id: str = "") -> None:
        """The DagStateTrigger fired: the triggered run ended; fail if in a failed state."""
        states = event.get("states", {}) if isinstance(event, dict) else {}
        state = states.get(run_id, "")
        if state in self.failed_states:
            raise TriggeredRunFailedError(
                f"Run {run_id!r} of DAG {self.trigger_dag_id!r} ended {state}, "
                f"one of failed_states {self.failed_states}."
            )
        print(f"Run {run_id!r} of DAG {self.trigger_dag_id!r} is {state}")

    def _trigger(self, config: Settings, store: Metastore) -> str:
        """Create the run (or reset or skip an existing one); its run id."""
        # With the metastore, only when a try runs: see _open_metastore.
        from taskkit.services import runs
        from taskkit.services.dag_versions import DagVersions, secret_key
        from taskkit.services.task_instances import clear

        when = _logical_date(self.logical_date)
        conf = _conf(self.conf)
        run_id = self.trigger_run_id or f"manual__{when.isoformat()}"
        if self.fail_when_dag_is_paused:
            self._refuse_paused(store)
        try:
            runs.trigger(
                store, config, self.trigger_dag_id, run_id=run_id, logical_date=when, conf=conf
            )
        except DuplicateRunError as exc:
            if self.reset_dag_run:
                versions = DagVersions(store, secret_key(config))
                spec = versions.get(store.get_run(self.trigger_dag_id, run_id).dag_version_id).spec
                cleared = clear(store, versions, self.trigger_dag_id, run_id, list(spec.tasks))
                print(f"Cleared {cleared} task instance(s) of the existing run {run_id!r}")
            elif self.skip_when_already_exists:
                raise AirflowSkipException(f"{exc} (skip_when_already_exists is set)") from None
            else:
                raise AirflowFailException(
                    f"{exc} Set reset_dag_run=True to rerun it, or "
                    "skip_when_already_exists=True to skip this task."
                ) from None
        return run_id

    def _refuse_paused(self, store: Metastore) -> None:
        """Fail if the target DAG is paused (an unknown one is left to the trigger to name)."""
        try:
            paused = store.get_dag(self.trigger_dag_id).is_paused
        except DagNotFoundError:
            return
        if paused:
            raise DagPausedError(
                f"DAG {self.trigger_dag_id!r} is paused (fail_when_dag_is_paused is set); "
                f"run `taskkit dags unpause {self.trigger_dag_id}` first."
            )

    def _finished(self, store: Metastore, run_id: str) -> bool:
        """Whether the triggered run is in an allowed state; raises if it is in a failed one."""
        state = store.get_run(self.trigger_dag_id, run_id).state.value
        if state in self.failed_states:
            raise TriggeredRunFailedError(
                f"Run {run_id!r} of DAG {self.trigger_dag_id!r} ended {state}, "
                f"one of failed_states {self.failed_states}."
            )
        print(f"Run {run_id!r} of DAG {self.trigger_dag_id!r} is {state}")
        return state in self.allowed_states


def _logical_date(value: dt.datetime | str | None) -> dt.datetime:
    """The (rendered) logical_date as an aware datetime; now when None."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"logical_date {value!r} is not an ISO date-time; use e.g. '2026-01-02T03:00:00'."
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _conf(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The (rendered) conf as a JSON object: a mapping, or a string holding one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"conf is not valid JSON: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"conf must be a JSON object (a dict), got {value!r}.")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"conf must be JSON-serializable: {exc}") from None
    return dict(value)


def _open_metastore() -> tuple[Settings, Metastore]:
    """The try's settings and the metastore they name (the scheduler's, with its TASKKIT_HOME)."""
    # SQLAlchemy and the settings load only when a try runs this operator: the zygote that
    # forks every try stays without SQLAlchemy (fork cost), as for ExternalTaskSensor.
    from taskkit.config import load_settings
    from taskkit.metastore import Metastore

    config = load_settings()
    return config, Metastore.open(config.database.sql_alchemy_conn)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
