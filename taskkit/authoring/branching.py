"""Operators that choose what runs next: branches and short circuits.

A branching try does not change other task instances itself: it records
its choice on `ti.directives`, and the run engine skips the tasks not
chosen (and, through trigger rules, what follows them), the same way under
DAG.test() and the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from taskkit.authoring.baseoperator import BaseOperator
from taskkit.authoring.operators import PythonOperator
from taskkit.errors import BranchError
from taskkit.model.results import SkipScope

if TYPE_CHECKING:
    from taskkit.authoring.context import Context
    from taskkit.authoring.dag import DAG


class BranchMixin:
    """Turns a branch choice into the directive the run engine applies."""

    task_id: str
    downstream_task_ids: set[str]
    dag: DAG

    def do_branch(self, context: Context, choice: Any) -> Any:
        """Follow `choice` (a task id, several, or None for none); the rest is skipped.

        A choice that is not a direct downstream task fails the try, naming
        the tasks it may choose, instead of silently skipping everything.
        """
        chosen = self._chosen_ids(choice)
        unknown = sorted(chosen - self.downstream_task_ids)
        if unknown:
            allowed = ", ".join(sorted(self.downstream_task_ids)) or "none"
            raise BranchError(
                f"Branch task {self.task_id!r} chose {', '.join(map(repr, unknown))}, which "
                f"is not one of its direct downstream tasks ({allowed}); return one of those, "
                f"or add `{self.task_id} >> {unknown[0]}`."
            )
        context["ti"].directives.follow = frozenset(chosen)
        return choice

    def _chosen_ids(self, choice: Any) -> set[str]:
        if choice is None:
            return set()
        if isinstance(choice, str):
            choice = [choice]
        if isinstance(choice, Iterable) and all(isinstance(c, str) for c in choice):
            # A TaskGroup's id follows the group's root tasks, as in Airflow.
            groups = self.dag.task_group_dict
            return {
                task_id
                for chosen in choice
                for task_id in (
                    [t.task_id for t in groups[chosen].roots] if chosen in groups else [chosen]
                )
            }
        raise BranchError(
            f"Branch task {self.task_id!r} returned {choice!r}; return a task id, a list of "
            "task ids, or None to skip every downstream task."
        )


class BaseBranchOperator(BranchMixin, BaseOperator):
    """Subclass it and implement `choose_branch(context)` to return the task id(s) to follow."""

    def choose_branch(self, context: Context) -> str | Iterable[str] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement choose_branch(context)")

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, self.choose_branch(context))


class BranchPythonOperator(BranchMixin, PythonOperator):
    """Calls `python_callable`, which returns the task id(s) to follow (or None)."""

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))


class ShortCircuitMixin:
    """Skips downstream tasks when the condition a try returns is falsy."""

    ignore_downstream_trigger_rules: bool

    def short_circuit(self, context: Context, condition: Any) -> Any:
        if not condition:
            # Every descendant whatever its trigger rule, or only the direct downstream
            # tasks, whose own downstream tasks then follow their trigger rules.
            scope = SkipScope.ALL if self.ignore_downstream_trigger_rules else SkipScope.DIRECT
            context["ti"].directives.skip_downstream = scope
        return condition


class ShortCircuitOperator(ShortCircuitMixin, PythonOperator):
    """Runs downstream tasks only when `python_callable` returns a truthy value.

    With `ignore_downstream_trigger_rules=True` (the default, as in Airflow)
    a falsy result skips every task downstream; with False it skips the
    direct downstream tasks and lets trigger rules decide the rest.
    Teardown tasks are never skipped by a short circuit.
    """

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        return self.short_circuit(context, super().execute(context))
