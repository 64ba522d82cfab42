"""taskkit: code-first workflows with Airflow's concurrency model done right.

This module exports the authoring API only. Importing it pulls in no
SQLAlchemy, Jinja2 or cloudpickle; those load when a feature needs them.
"""

from __future__ import annotations

from taskkit.authoring import (
    DAG,
    BaseBranchOperator,
    BaseOperator,
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    XComArg,
    chain,
    cross_downstream,
    dag,
    get_current_context,
    setup,
    task,
    teardown,
)
from taskkit.errors import AirflowFailException, AirflowSkipException
from taskkit.states import RunState, State, TriggerRule, WeightRule

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "AirflowFailException",
    "AirflowSkipException",
    "BaseBranchOperator",
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "PythonOperator",
    "RunState",
    "ShortCircuitOperator",
    "State",
    "TriggerRule",
    "WeightRule",
    "XComArg",
    "__version__",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "setup",
    "task",
    "teardown",
]
