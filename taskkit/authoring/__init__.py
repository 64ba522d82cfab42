"""What users write against: DAG, @dag, @task, operators, groups, labels, params."""

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
from taskkit.authoring.edges import EdgeModifier, Label
from taskkit.authoring.operators import BashOperator, EmptyOperator, PythonOperator
from taskkit.authoring.params import Param, ParamsDict
from taskkit.authoring.taskgroup import TaskGroup, task_group

__all__ = [
    "DAG",
    "BaseBranchOperator",
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "EdgeModifier",
    "EmptyOperator",
    "Label",
    "Param",
    "ParamsDict",
    "PythonOperator",
    "ShortCircuitOperator",
    "TaskGroup",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "setup",
    "task",
    "task_group",
    "teardown",
]
