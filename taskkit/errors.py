"""Every error taskkit raises on purpose; each also derives from the fitting builtin."""

from __future__ import annotations

import datetime as dt


class TaskkitError(Exception):
    """Base of every error taskkit raises on purpose."""


class DagDefinitionError(TaskkitError, ValueError):
    """A DAG or task is defined in a way that can never run correctly."""


class CycleError(DagDefinitionError):
    """The task graph has a cycle."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks in one DAG share a task_id."""


class InvalidTaskParameterError(DagDefinitionError):
    """A task parameter (pool_slots, priority_weight, retries, rules…) is out of range."""


class DuplicateGroupIdError(DagDefinitionError):
    """A task group's id is already used by a task or another group of the DAG."""


class UnknownDefaultArgError(DagDefinitionError):
    """`default_args` holds a key that no task parameter (taskkit's or Airflow's) has."""


class ParamValidationError(DagDefinitionError):
    """A DAG or task `Param` value fails its JSON schema (or is missing)."""

    def __init__(self, param: str, problem: str, *, dag_id: str | None = None) -> None:
        self.param = param
        self.problem = problem
        self.dag_id = dag_id
        where = f"DAG {dag_id!r}, param {param!r}" if dag_id else f"Param {param!r}"
        super().__init__(f"{where}: {problem}")


class DagAssignmentError(DagDefinitionError):
    """An operator was used outside a DAG, or in two DAGs."""


class ScheduleError(DagDefinitionError):
    """A schedule, start_date or end_date cannot produce runs."""


class DuplicateDagIdError(DagDefinitionError):
    """Two DAGs in the DAGs folder (in one file, or in two) share a dag_id."""

    def __init__(self, dag_id: str, file: str, other_file: str | None = None) -> None:
        if other_file is None:
            message = (
                f"DAG {dag_id!r} is defined twice in this file; give each DAG a unique dag_id."
            )
        else:
            message = (
                f"DAG {dag_id!r} is defined in both {file} and {other_file}; "
                "dag_ids must be unique in the DAGs folder, rename one."
            )
        super().__init__(message)
        self.dag_id = dag_id
        self.file = file
        self.other_file = other_file


class AirflowException(TaskkitError):
    """Airflow's base exception, for DAG files that raise or catch it: raised in a task, it
    fails the try like any error (retries apply). The Airflow exceptions below derive from
    it, as in Airflow, so `except AirflowException` catches them too."""


class AirflowSkipException(AirflowException):
    """Raise inside a task to end the try as skipped (BashOperator: exit code 99)."""


#: taskkit's own name for AirflowSkipException.
TaskSkipped = AirflowSkipException


class BranchError(TaskkitError, ValueError):
    """A branching task chose something it cannot follow; the try fails with this."""


class IsolatedPythonError(TaskkitError, RuntimeError):
    """A virtualenv or external-Python task could not run, or its callable failed there."""


class AirflowFailException(AirflowException):
    """Raise inside a task to fail it at once, without using its remaining retries."""


class AirflowConfigException(AirflowException):
    """`conf.get` of a setting taskkit does not have, or one that cannot be converted."""


class AirflowSensorTimeout(AirflowException):
    """A sensor waited longer than its `timeout`: its task fails without retrying."""


class AirflowRescheduleException(AirflowException):
    """Raised by a reschedule-mode sensor: end this try's poke and poke again at `reschedule_date`.

    The task instance gives back its worker, parallelism and pool slots
    meanwhile (state up_for_reschedule); its try number stays the same.
    """

    def __init__(self, reschedule_date: dt.datetime) -> None:
        super().__init__(f"poke again at {reschedule_date.isoformat()}")
        self.reschedule_date = reschedule_date


class TaskDeferred(TaskkitError):
    """Raised by `BaseOperator.defer`: end this try's turn until `trigger` fires.

    The task instance waits in state deferred, holding no worker and no
    parallelism slot; when the trigger fires, the same try resumes by calling
    `method_name(context, event=...)`. `timeout` bounds the wait.
    """

    def __init__(
        self,
        *,
        trigger: object,
        method_name: str,
        kwargs: dict[str, object] | None = None,
        timeout: dt.timedelta | None = None,
    ) -> None:
        super().__init__(f"deferred until {type(trigger).__name__} fires, then {method_name}()")
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = kwargs
        self.timeout = timeout


class TaskDeferralError(TaskkitError):
    """The trigger a deferred task waited on failed; the resumed try raises this."""


class TaskDeferralTimeout(TaskkitError):
    """A deferred task waited longer than its deferral's `timeout`; the resumed try raises this."""


class ExternalTaskFailedError(TaskkitError, RuntimeError):
    """What an ExternalTaskSensor waits on reached one of its `failed_states`."""


class IllegalTransitionError(TaskkitError, RuntimeError):
    """The run engine was asked for a state change that states.ALLOWED_TRANSITIONS forbids.

    It names a bug in taskkit (or a lost race), never a user mistake.
    """

    def __init__(self, task_id: str, source: object, target: object) -> None:
        super().__init__(f"Task {task_id!r} cannot move from {source} to {target}.")
        self.task_id = task_id


class TaskTimeoutError(TaskkitError, TimeoutError):
    """A try ran longer than its execution_timeout."""


class TemplateFileNotFoundError(TaskkitError, FileNotFoundError):
    """A template field names a template file (by its extension) that is in no search folder."""


class ConfigError(TaskkitError, ValueError):
    """A setting has a bad value; the message names the setting and where it came from."""


class NotFoundError(TaskkitError, LookupError):
    """A DAG, run, task or pool that was asked for does not exist."""


class ExternalTaskGroupNotFoundError(NotFoundError):
    """The run an ExternalTaskSensor looks at has no task in its `external_task_group_id`."""

    def __init__(self, group_id: str, dag_id: str, run_id: str) -> None:
        super().__init__(
            f"Task group {group_id!r} not found in run {run_id!r} of DAG {dag_id!r}: no task "
            f"id starts with '{group_id}.'. Check external_task_group_id against the task ids "
            f"that `taskkit tasks states {dag_id} {run_id}` lists."
        )


class DagNotFoundError(NotFoundError):
    """No DAG with that id is known."""


class RunNotFoundError(NotFoundError):
    """No run with that id exists for the DAG."""

    def __init__(self, dag_id: str, run_id: str) -> None:
        super().__init__(f"DAG {dag_id!r} has no run {run_id!r}. Run `taskkit runs list {dag_id}`.")
        self.dag_id = dag_id
        self.run_id = run_id


class TaskNotFoundError(NotFoundError):
    """No task with that id exists in the DAG."""


class PoolNotFoundError(NotFoundError):
    """No pool with that name exists."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No pool {name!r}. Run `taskkit pools list` to see the pools.")
        self.name = name


class InvalidNameError(TaskkitError, ValueError):
    """A run id, DAG id, task id, pool name or count does not follow the naming rules."""


class PoolError(TaskkitError, ValueError):
    """A pool change that cannot be made (negative slots, deleting default_pool)."""


class DuplicateRunError(TaskkitError, ValueError):
    """A run with that run_id (or logical date) already exists."""


class MetastoreError(TaskkitError, RuntimeError):
    """The metastore cannot be used as it is."""


class MetastoreNotInitializedError(MetastoreError):
    """The database has no taskkit schema yet, or an old one."""


class MetastoreUnavailableError(MetastoreError):
    """The metastore could not be written even after retries (disk full, read-only, down)."""


class SchedulerAlreadyRunningError(MetastoreError):
    """A second scheduler was started against a metastore that already has a live one."""


class SchedulerFencedError(MetastoreError):
    """Another scheduler declared this one dead: its in-memory state is stale, it must stop."""

    def __init__(self, scheduler_id: int) -> None:
        self.scheduler_id = scheduler_id
        super().__init__(
            f"Scheduler {scheduler_id} was declared dead by another scheduler (its heartbeat "
            "was older than scheduler_health_check_threshold, e.g. the process was paused or "
            "cut off from the database); its runs were adopted by the others, so it wrote "
            "nothing and stopped. Start it again to register afresh; if this repeats, raise "
            "[scheduler] scheduler_health_check_threshold."
        )


class PayloadIntegrityError(MetastoreError):
    """A stored DAG payload failed its keyed-hash check and was not loaded."""


class RunUnloadableError(PayloadIntegrityError):
    """A stored run cannot be loaded: its DAG version or one of its XComs fails its check."""


class DagVersionUnloadableError(RunUnloadableError):
    """A stored DAG version cannot be loaded (bad signature, or it fails to unpickle)."""


class DagImportError(TaskkitError, ImportError):
    """A DAG file failed to import; carries the file and line."""

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.args[0]}"


class XComIntegrityError(PayloadIntegrityError):
    """A stored XCom value failed its HMAC check or is not in a format taskkit wrote."""


class XComEncodeError(TaskkitError, TypeError):
    """A task's XCom value cannot be stored under the current settings."""

    def __init__(
        self, type_name: str, path: str, *, pickling: bool, reason: str | None = None
    ) -> None:
        super().__init__(type_name, path)
        self.type_name = type_name
        self.path = path
        self.pickling = pickling
        self.reason = reason

    def __str__(self) -> str:
        where = "" if self.path == "value" else f" (at {self.path})"
        if self.pickling:
            return (
                f"The XCom value cannot be stored: {self.type_name}{where} is neither JSON "
                f"nor picklable ({self.reason}). Return plain data instead."
            )
        return (
            f"The XCom value cannot be stored: {self.type_name}{where} is not JSON-serializable. "
            "Return plain data (dict, list, str, numbers, datetime, dataclasses...), or set "
            "core.enable_xcom_pickling = true to pickle it (see docs/security.md)."
        )


class BrokerMessageError(TaskkitError, ValueError):
    """A message taken from the broker is malformed or not signed with this installation's key."""


class BrokerUnreachableError(TaskkitError, ConnectionError):
    """The Celery broker (celery.broker_url) did not answer."""


class UserNotFoundError(NotFoundError):
    """No user with that name exists."""


class UserError(TaskkitError, ValueError):
    """A user cannot be created or changed as asked (name taken, bad role, bad name)."""


class AuthError(TaskkitError, PermissionError):
    """A login failed: wrong password, unknown user, bad or expired token."""


class TooManyLoginsError(AuthError):
    """Too many failed logins in a row for one user: wait before the next try."""


class ForbiddenError(TaskkitError, PermissionError):
    """The logged-in user's role may not do this."""


class InvalidInputError(TaskkitError, ValueError):
    """A request's value is malformed (a run id, a pool name, a conf that fails its params)."""


class ConflictError(TaskkitError, ValueError):
    """A change that conflicts with the current state (a task instance still running)."""


class PortInUseError(TaskkitError, OSError):
    """The API server's port is taken by another process, or cannot be bound."""


class VariableNotFoundError(NotFoundError, KeyError):
    """Variable.get found no variable by that key and was given no default (Airflow: KeyError)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Variable {key!r} does not exist: set it with `taskkit variables set {key} VALUE` "
            f"or the environment variable TASKKIT_VAR_{key.upper()}, or pass default=."
        )
        self.key = key

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConnectionNotFoundError(NotFoundError):
    """No connection with that conn_id (Airflow's AirflowNotFoundException)."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(
            f"The conn_id {conn_id!r} isn't defined: add it with `taskkit connections add "
            f"{conn_id} --conn-uri URI` or the environment variable TASKKIT_CONN_{conn_id.upper()}."
        )
        self.conn_id = conn_id


class VariableError(TaskkitError, ValueError):
    """A variable cannot be stored or imported as given (bad key, malformed file)."""


class ConnectionSpecError(TaskkitError, ValueError):
    """A connection is malformed: a bad URI or JSON, a bad port, a malformed import file."""


class FernetKeyError(TaskkitError, ValueError):
    """The Fernet key is malformed, missing, or not the one a stored secret was encrypted with."""


class AssetDefinitionError(DagDefinitionError):
    """An Asset, an asset condition or a task's outlets are not valid."""


class AssetRefNotFoundError(NotFoundError):
    """An Asset.ref(...) among a task's inlets or outlets names no known asset."""

    def __init__(self, by: str, value: str) -> None:
        super().__init__(
            f"Asset.ref({by}={value!r}) names no known asset: no DAG declares an asset with "
            f"that {by}. Declare it (Asset(..., name=...) in some task's outlets, or @asset), "
            "or run `taskkit assets list` to see the known ones."
        )


class AssetNotFoundError(NotFoundError, KeyError):
    """No DAG names an asset with this URI."""

    def __init__(self, uri: str) -> None:
        super().__init__(
            f"No asset {uri!r}: no DAG names it. Run `taskkit assets list` to see the assets."
        )
        self.uri = uri

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class TriggeredRunFailedError(TaskkitError, RuntimeError):
    """A run started by TriggerDagRunOperator reached one of its `failed_states`."""


class DagPausedError(TaskkitError, RuntimeError):
    """TriggerDagRunOperator with fail_when_dag_is_paused found its target DAG paused."""


class XComUnreadableError(TaskkitError, LookupError):
    """A try pulled a pickled value of a task that is not upstream of it: it cannot verify it."""

    def __init__(self, task_id: str, key: str, puller: str) -> None:
        super().__init__(task_id, key, puller)
        self.task_id = task_id
        self.key = key
        self.puller = puller

    def __str__(self) -> str:
        return (
            f"XCom {self.key!r} of task {self.task_id!r} is pickled, and a try can only use "
            f"pickled values the scheduler verified for it, those of its upstream tasks: set "
            f"{self.task_id!r} upstream of {self.puller!r}, or push a JSON-serialisable value."
        )
