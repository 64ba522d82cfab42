"""What users write against: DAG, @dag, @task, operators and dependency helpers."""

from __future__ import annotations

from taskkit.authoring.baseoperator import BaseOperator
from taskkit.authoring.context import get_current_context
from taskkit.authoring.dag import DAG, dag
from taskkit.authoring.decorators import XComArg, task
from taskkit.authoring.dependencies import chain, cross_downstream
from taskkit.authoring.operators import BashOperator, EmptyOperator, PythonOperator

__all__ = [
    "DAG",
    "BaseOperator",
    "BashOperator",
    "EmptyOperator",
    "PythonOperator",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "task",
]
