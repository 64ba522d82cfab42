"""What users write against: DAG, @dag, @task, operators and dependency helpers."""

from __future__ import annotations

from taskkit.authoring.baseoperator import BaseOperator
from taskkit.authoring.branching import (
    BaseBranchOperator,
    BranchPythonOperator,
    ShortCircuitOperator,
)
from taskkit.authoring.context import get_current_context
from taskkit.authoring.dag import DAG, dag
from taskkit.authoring.decorators import XComArg, setup, task, teardown
from taskkit.authoring.dependencies import chain, cross_downstream
from taskkit.authoring.operators import BashOperator, EmptyOperator, PythonOperator

__all__ = [
    "DAG",
    "BaseBranchOperator",
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "PythonOperator",
    "ShortCircuitOperator",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "setup",
    "task",
    "teardown",
]
