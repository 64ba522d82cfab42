"""taskkit: code-first workflows with Airflow's concurrency model done right.

Every authoring name (taskkit's own and the Airflow names taskkit supports,
DESIGN.md A7) is importable from here, so porting an Airflow DAG file means
replacing `from airflow.<anything> import X` with `from taskkit import X`.
Names load on first use (PEP 562), so `import taskkit` pulls in nothing
heavy: no SQLAlchemy, Jinja2, cloudpickle or jsonschema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Exported name -> the module that defines it. One line per name; add a name
#: here only once it works (a name that imports but does nothing is a defect).
_EXPORTS: dict[str, str] = {
    # DAGs and tasks
    "DAG": "taskkit.authoring.dag",
    "dag": "taskkit.authoring.dag",
    "task": "taskkit.authoring.decorators",
    "XComArg": "taskkit.authoring.decorators",
    "BaseOperator": "taskkit.authoring.baseoperator",
    "BashOperator": "taskkit.authoring.operators",
    "EmptyOperator": "taskkit.authoring.operators",
    "DummyOperator": "taskkit.authoring.operators",
    "PythonOperator": "taskkit.authoring.operators",
    "get_current_context": "taskkit.authoring.context",
    "Context": "taskkit.authoring.context",
    "TaskInstance": "taskkit.authoring.context",
    "DagRun": "taskkit.authoring.context",
    # dependencies, groups and labels
    "chain": "taskkit.authoring.dependencies",
    "chain_linear": "taskkit.authoring.dependencies",
    "cross_downstream": "taskkit.authoring.dependencies",
    "TaskGroup": "taskkit.authoring.taskgroup",
    "task_group": "taskkit.authoring.taskgroup",
    "Label": "taskkit.authoring.edges",
    "EdgeModifier": "taskkit.authoring.edges",
    # params
    "Param": "taskkit.authoring.params",
    "ParamsDict": "taskkit.authoring.params",
    "ParamValidationError": "taskkit.errors",
    # control flow
    "BaseBranchOperator": "taskkit.authoring.branching",
    "BranchPythonOperator": "taskkit.authoring.branching",
    "ShortCircuitOperator": "taskkit.authoring.branching",
    "LatestOnlyOperator": "taskkit.authoring.time_branching",
    "BranchDateTimeOperator": "taskkit.authoring.time_branching",
    "BranchDayOfWeekOperator": "taskkit.authoring.time_branching",
    "WeekDay": "taskkit.authoring.weekday",
    "PythonVirtualenvOperator": "taskkit.authoring.isolated_python",
    "ExternalPythonOperator": "taskkit.authoring.isolated_python",
    "BranchPythonVirtualenvOperator": "taskkit.authoring.isolated_python",
    "BranchExternalPythonOperator": "taskkit.authoring.isolated_python",
    "RetryPolicy": "taskkit.authoring.retry_policy",
    "ExceptionRetryPolicy": "taskkit.authoring.retry_policy",
    "RetryRule": "taskkit.authoring.retry_policy",
    "RetryAction": "taskkit.authoring.retry_policy",
    "RetryDecision": "taskkit.authoring.retry_policy",
    "setup": "taskkit.authoring.decorators",
    "teardown": "taskkit.authoring.decorators",
    "AirflowException": "taskkit.errors",
    "AirflowFailException": "taskkit.errors",
    "AirflowSkipException": "taskkit.errors",
    "AirflowConfigException": "taskkit.errors",
    # waiting
    "BaseSensorOperator": "taskkit.authoring.sensor",
    "PokeReturnValue": "taskkit.authoring.sensor",
    "PythonSensor": "taskkit.authoring.sensor",
    "BashSensor": "taskkit.sensors.bash",
    "FileSensor": "taskkit.sensors.filesystem",
    "TimeSensor": "taskkit.sensors.temporal",
    "TimeDeltaSensor": "taskkit.sensors.temporal",
    "DateTimeSensor": "taskkit.sensors.temporal",
    "DayOfWeekSensor": "taskkit.sensors.temporal",
    "ExternalTaskSensor": "taskkit.sensors.external_task",
    "ExternalTaskMarker": "taskkit.sensors.external_task",
    "TriggerDagRunOperator": "taskkit.crossdag.trigger_dagrun",
    "AirflowRescheduleException": "taskkit.errors",
    "AirflowSensorTimeout": "taskkit.errors",
    # deferral
    "BaseTrigger": "taskkit.triggers.base",
    "TriggerEvent": "taskkit.triggers.base",
    "DateTimeTrigger": "taskkit.triggers.temporal",
    "TimeDeltaTrigger": "taskkit.triggers.temporal",
    "FileTrigger": "taskkit.triggers.file",
    "DagStateTrigger": "taskkit.triggers.external_task",
    "WorkflowTrigger": "taskkit.triggers.external_task",
    "TaskDeferred": "taskkit.errors",
    "TaskDeferralError": "taskkit.errors",
    "TaskDeferralTimeout": "taskkit.errors",
    # variables, connections and time zones
    "Variable": "taskkit.authoring.variables",
    "Connection": "taskkit.authoring.connections",
    "BaseHook": "taskkit.authoring.connections",
    "mask_secret": "taskkit.authoring.masking",
    "timezone": "taskkit.timezone",  # a module, as Airflow's `airflow.utils.timezone`
    "days_ago": "taskkit.timezone",
    "conf": "taskkit.configuration",  # Airflow's `airflow.configuration.conf`
    "macros": "taskkit.authoring.macros",  # a module, as Airflow's `airflow.macros`
    # assets (data-aware scheduling)
    "Asset": "taskkit.model.assets",
    "AssetAlias": "taskkit.model.assets",
    "AssetAll": "taskkit.model.assets",
    "AssetAny": "taskkit.model.assets",
    "AssetOrTimeSchedule": "taskkit.model.assets",
    "AssetWatcher": "taskkit.model.assets",
    "Dataset": "taskkit.model.assets",
    "DatasetAlias": "taskkit.model.assets",
    "DatasetAll": "taskkit.model.assets",
    "DatasetAny": "taskkit.model.assets",
    "Metadata": "taskkit.model.assets",
    "asset": "taskkit.authoring.asset_decorator",
    # timetables (schedule objects)
    "CronDataIntervalTimetable": "taskkit.model.timetables",
    "CronTriggerTimetable": "taskkit.model.timetables",
    "DeltaDataIntervalTimetable": "taskkit.model.timetables",
    "DeltaTriggerTimetable": "taskkit.model.timetables",
    "EventsTimetable": "taskkit.model.timetables",
    "MultipleCronTriggerTimetable": "taskkit.model.timetables",
    # states and rules
    "RunState": "taskkit.states",
    "State": "taskkit.states",
    "DagRunState": "taskkit.states",
    "TaskInstanceState": "taskkit.states",
    "TriggerRule": "taskkit.states",
    "WeightRule": "taskkit.states",
}

#: Kept literal for linters and IDEs; a test checks it matches _EXPORTS.
__all__ = [
    "DAG",
    "AirflowConfigException",
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetAlias",
    "AssetAll",
    "AssetAny",
    "AssetOrTimeSchedule",
    "AssetWatcher",
    "BaseBranchOperator",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "BashOperator",
    "BashSensor",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "BranchExternalPythonOperator",
    "BranchPythonOperator",
    "BranchPythonVirtualenvOperator",
    "Connection",
    "Context",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagRun",
    "DagRunState",
    "DagStateTrigger",
    "Dataset",
    "DatasetAlias",
    "DatasetAll",
    "DatasetAny",
    "DateTimeSensor",
    "DateTimeTrigger",
    "DayOfWeekSensor",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "DummyOperator",
    "EdgeModifier",
    "EmptyOperator",
    "EventsTimetable",
    "ExceptionRetryPolicy",
    "ExternalPythonOperator",
    "ExternalTaskMarker",
    "ExternalTaskSensor",
    "FileSensor",
    "FileTrigger",
    "Label",
    "LatestOnlyOperator",
    "Metadata",
    "MultipleCronTriggerTimetable",
    "Param",
    "ParamValidationError",
    "ParamsDict",
    "PokeReturnValue",
    "PythonOperator",
    "PythonSensor",
    "PythonVirtualenvOperator",
    "RetryAction",
    "RetryDecision",
    "RetryPolicy",
    "RetryRule",
    "RunState",
    "ShortCircuitOperator",
    "State",
    "TaskDeferralError",
    "TaskDeferralTimeout",
    "TaskDeferred",
    "TaskGroup",
    "TaskInstance",
    "TaskInstanceState",
    "TimeDeltaSensor",
    "TimeDeltaTrigger",
    "TimeSensor",
    "TriggerDagRunOperator",
    "TriggerEvent",
    "TriggerRule",
    "Variable",
    "WeekDay",
    "WeightRule",
    "WorkflowTrigger",
    "XComArg",
    "__version__",
    "asset",
    "chain",
    "chain_linear",
    "conf",
    "cross_downstream",
    "dag",
    "days_ago",
    "get_current_context",
    "macros",
    "mask_secret",
    "setup",
    "task",
    "task_group",
    "teardown",
    "timezone",
]

if TYPE_CHECKING:
    from taskkit import timezone
    from taskkit.authoring import macros
    from taskkit.authoring.asset_decorator import asset
    from taskkit.authoring.baseoperator import BaseOperator
    from taskkit.authoring.branching import (
        BaseBranchOperator,
        BranchPythonOperator,
        ShortCircuitOperator,
    )
    from taskkit.authoring.connections import BaseHook, Connection
    from taskkit.authoring.context import Context, DagRun, TaskInstance, get_current_context
    from taskkit.authoring.dag import DAG, dag
    from taskkit.authoring.decorators import XComArg, setup, task, teardown
    from taskkit.authoring.dependencies import chain, chain_linear, cross_downstream
    from taskkit.authoring.edges import EdgeModifier, Label
    from taskkit.authoring.isolated_python import (
        BranchExternalPythonOperator,
        BranchPythonVirtualenvOperator,
        ExternalPythonOperator,
        PythonVirtualenvOperator,
    )
    from taskkit.authoring.masking import mask_secret
    from taskkit.authoring.operators import (
        BashOperator,
        DummyOperator,
        EmptyOperator,
        PythonOperator,
    )
    from taskkit.authoring.params import Param, ParamsDict
    from taskkit.authoring.retry_policy import (
        ExceptionRetryPolicy,
        RetryAction,
        RetryDecision,
        RetryPolicy,
        RetryRule,
    )
    from taskkit.authoring.sensor import BaseSensorOperator, PokeReturnValue, PythonSensor
    from taskkit.authoring.taskgroup import TaskGroup, task_group
    from taskkit.authoring.time_branching import (
        BranchDateTimeOperator,
        BranchDayOfWeekOperator,
        LatestOnlyOperator,
    )
    from taskkit.authoring.variables import Variable
    from taskkit.authoring.weekday import WeekDay
    from taskkit.configuration import conf
    from taskkit.crossdag.trigger_dagrun import TriggerDagRunOperator
    from taskkit.errors import (
        AirflowConfigException,
        AirflowException,
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        ParamValidationError,
        TaskDeferralError,
        TaskDeferralTimeout,
        TaskDeferred,
    )
    from taskkit.model.assets import (
        Asset,
        AssetAlias,
        AssetAll,
        AssetAny,
        AssetOrTimeSchedule,
        AssetWatcher,
        Dataset,
        DatasetAlias,
        DatasetAll,
        DatasetAny,
        Metadata,
    )
    from taskkit.model.timetables import (
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        DeltaDataIntervalTimetable,
        DeltaTriggerTimetable,
        EventsTimetable,
        MultipleCronTriggerTimetable,
    )
    from taskkit.sensors.bash import BashSensor
    from taskkit.sensors.external_task import ExternalTaskMarker, ExternalTaskSensor
    from taskkit.sensors.filesystem import FileSensor
    from taskkit.sensors.temporal import (
        DateTimeSensor,
        DayOfWeekSensor,
        TimeDeltaSensor,
        TimeSensor,
    )
    from taskkit.states import (
        DagRunState,
        RunState,
        State,
        TaskInstanceState,
        TriggerRule,
        WeightRule,
    )
    from taskkit.timezone import days_ago
    from taskkit.triggers.base import BaseTrigger, TriggerEvent
    from taskkit.triggers.external_task import DagStateTrigger, WorkflowTrigger
    from taskkit.triggers.file import FileTrigger
    from taskkit.triggers.temporal import DateTimeTrigger, TimeDeltaTrigger


#: Exported names that are modules rather than names defined in one, as in Airflow.
_MODULES = frozenset({"timezone", "macros"})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'taskkit' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if name in _MODULES else getattr(imported, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
