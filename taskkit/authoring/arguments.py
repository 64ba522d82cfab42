"""The one table of task and DAG arguments: what taskkit implements, what it only warns about.

An Airflow DAG file ported to taskkit must not lose a safety feature in
silence. So every argument (in `default_args`, on an operator or on a DAG)
is one of three kinds: implemented (applies), an Airflow argument taskkit
does not implement (accepted, and the DAG carries a warning shown beside
import errors), or unknown (a DagDefinitionError with a did-you-mean).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from taskkit.errors import DagDefinitionError, UnknownDefaultArgError
from taskkit.model.task import DEFAULT_POOL
from taskkit.states import TriggerRule, WeightRule

#: Task parameters taskkit implements, with the value used when neither the
#: task nor `default_args` (of the DAG or a TaskGroup) sets one.
TASK_DEFAULTS: Mapping[str, Any] = {
    "owner": "taskkit",
    "retries": 0,
    "retry_delay": dt.timedelta(seconds=300),
    "retry_exponential_backoff": False,
    "max_retry_delay": None,
    "retry_policy": None,
    "pool": DEFAULT_POOL,
    "pool_slots": 1,
    "priority_weight": 1,
    "weight_rule": WeightRule.DOWNSTREAM,
    "max_active_tis_per_dag": None,
    "max_active_tis_per_dagrun": None,
    "execution_timeout": None,
    "trigger_rule": TriggerRule.ALL_SUCCESS,
    "queue": "default",
    "depends_on_past": False,
    "wait_for_downstream": False,
    "on_execute_callback": None,
    "on_success_callback": None,
    "on_failure_callback": None,
    "on_retry_callback": None,
    "on_skipped_callback": None,
    "do_xcom_push": True,
    "multiple_outputs": False,
    "map_index_template": None,
    "doc": None,
    "doc_md": None,
    "doc_rst": None,
    "doc_json": None,
    "doc_yaml": None,
    "task_display_name": None,
    "render_template_as_native_obj": None,
}

#: Keys `default_args` may hold that are not task parameters: DAG-level
#: (start_date/end_date fill the DAG's own) or merged (params).
DAG_LEVEL_DEFAULT_ARGS = frozenset({"start_date", "end_date", "params"})

_SENSORS = "sensors arrive with issue 10; until then it is ignored"
_NO_EMAIL = "taskkit sends no email; use on_failure_callback / on_retry_callback"

#: Airflow task parameters taskkit accepts but does not implement, with why.
AIRFLOW_ONLY_TASK_ARGS: Mapping[str, str] = {
    "email": _NO_EMAIL,
    "email_on_failure": _NO_EMAIL,
    "email_on_retry": _NO_EMAIL,
    "sla": "Airflow 3 removed SLAs; use execution_timeout or a callback",
    "sla_miss_callback": "Airflow 3 removed SLAs; use execution_timeout or a callback",
    "executor_config": "taskkit's executors take no per-task configuration",
    "executor": "taskkit runs every task on the scheduler's one executor",
    "run_as_user": "tasks run as the worker's user",
    "resources": "taskkit has no per-task resources; use pools and pool_slots",
    "ignore_first_depends_on_past": "not implemented",
    "wait_for_past_depends_before_skipping": "not implemented",
    "pre_execute": "not implemented; call it at the start of the task",
    "post_execute": "not implemented; call it at the end of the task",
    "logger_name": "tasks log through the try's log",
    "allow_nested_operators": "not implemented",
    "poke_interval": _SENSORS,
    "timeout": _SENSORS,
    "mode": _SENSORS,
    "soft_fail": _SENSORS,
    "exponential_backoff": _SENSORS,
    "max_wait": _SENSORS,
    "silent_fail": _SENSORS,
    "never_fail": _SENSORS,
    "deferrable": (
        "only TimeSensor, TimeDeltaSensor, DateTimeSensor, FileSensor, ExternalTaskSensor and "
        "TriggerDagRunOperator defer (and operators that call self.defer); this task waits "
        "without it, a sensor in its mode (poke or reschedule)"
    ),
}

#: Airflow DAG arguments taskkit accepts but does not implement, with why.
AIRFLOW_ONLY_DAG_ARGS: Mapping[str, str] = {
    "sla_miss_callback": "Airflow 3 removed SLAs",
    "access_control": "taskkit's roles are not per DAG",
    "default_view": "the web UI has one view per DAG",
    "orientation": "the web UI has one graph orientation",
    "max_consecutive_failed_dag_runs": "not implemented",
    "fail_fast": "not implemented",
    "auto_register": "every DAG a file creates is registered",
    "deadline": "not implemented",
    "allowed_run_types": "not implemented",
    "disable_bundle_versioning": "taskkit versions every DAG",
    "rerun_with_latest_version": "not implemented",
    "is_paused_upon_creation": "use `taskkit dags pause` after the first parse",
    "jinja_environment_kwargs": "not implemented",
}


#: Airflow 2 task arguments that Airflow 3 renamed or dropped: the name taskkit takes, or
#: None for one that changes nothing (Airflow 2 hands a callable the context values it
#: names without being asked; `provide_context=True` was Airflow 1's switch for that).
AIRFLOW_2_TASK_ARGS: Mapping[str, str | None] = {
    "task_concurrency": "max_active_tis_per_dag",
    "provide_context": None,
}

#: Airflow 2 DAG arguments that Airflow 3 renamed: the name taskkit takes.
AIRFLOW_2_DAG_ARGS: Mapping[str, str | None] = {
    "schedule_interval": "schedule",
    "timetable": "schedule",
    "concurrency": "max_active_tasks",
}


def take_airflow_2_names(
    owner: str,
    renames: Mapping[str, str | None],
    arguments: dict[str, Any],
    given: Iterable[str],
) -> dict[str, Any]:
    """Remove Airflow 2's names from `arguments`; return their values under taskkit's names.

    So an Airflow 2 DAG file ports with its imports changed only. `given`
    are taskkit's names the caller was passed: one setting passed under two
    names (`schedule` and `schedule_interval`) is a DagDefinitionError.
    """
    passed = {name: name for name in given}  # taskkit's name -> the name it was passed as
    taken: dict[str, Any] = {}
    for old, new in renames.items():
        if old not in arguments:
            continue
        value = arguments.pop(old)
        if new is None:
            continue
        if new in passed:
            raise DagDefinitionError(
                f"{owner}: {old!r} is Airflow 2's name for {new!r}, and {passed[new]!r} is "
                f"given too; keep one ({new!r}, as Airflow 3 names it)."
            )
        passed[new] = old
        taken[new] = value
    return taken


def renamed_default_args(dag_id: str, default_args: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of `default_args` with Airflow 2's task argument names as taskkit's."""
    args = dict(default_args or {})
    if any(name in args for name in AIRFLOW_2_TASK_ARGS):
        owner = f"DAG {dag_id!r}: default_args"
        args.update(take_airflow_2_names(owner, AIRFLOW_2_TASK_ARGS, args, list(args)))
    return args


def is_airflow_only_task_arg(name: str) -> bool:
    """True for an Airflow task argument taskkit accepts with a warning (provider conn ids too)."""
    return name in AIRFLOW_ONLY_TASK_ARGS or name.endswith("_conn_id")


def airflow_only_reason(name: str) -> str:
    return AIRFLOW_ONLY_TASK_ARGS.get(name, "provider operators are not part of taskkit")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """` Did you mean 'retries'?` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_default_args(dag_id: str, default_args: Mapping[str, Any]) -> list[str]:
    """Warnings for Airflow-only keys; raises UnknownDefaultArgError for any unknown key."""
    warnings = []
    known = {*TASK_DEFAULTS, *DAG_LEVEL_DEFAULT_ARGS}
    for key in default_args:
        if key in known:
            continue
        if not isinstance(key, str):
            raise UnknownDefaultArgError(f"DAG {dag_id!r}: default_args key {key!r} is not a str.")
        if is_airflow_only_task_arg(key):
            warnings.append(
                f"DAG {dag_id!r}: default_args key {key!r} is an Airflow setting taskkit does "
                f"not implement ({airflow_only_reason(key)}); it is ignored."
            )
            continue
        hint = did_you_mean(key, [*known, *AIRFLOW_ONLY_TASK_ARGS])
        raise UnknownDefaultArgError(
            f"DAG {dag_id!r}: default_args has an unknown key {key!r}.{hint} "
            "Fix the key or remove it (see docs/airflow.md for the supported task arguments)."
        )
    return warnings
