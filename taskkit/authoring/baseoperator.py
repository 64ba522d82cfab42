"""BaseOperator: the parameters every task has, their validation and default_args."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring import registry
from taskkit.authoring.dependencies import DependencyMixin
from taskkit.errors import DagAssignmentError, InvalidTaskParameterError
from taskkit.model.task import DEFAULT_POOL, TaskSpec
from taskkit.states import TriggerRule, WeightRule

if TYPE_CHECKING:
    from taskkit.authoring.context import Context
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.decorators import XComArg
    from taskkit.authoring.mapping import OperatorPartial


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()

_TASK_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")
_INT64_MAX = 2**63 - 1
#: The parameters default_args may fill, with the value used when neither sets one.
BASE_DEFAULTS: Mapping[str, Any] = {
    "owner": "taskkit",
    "retries": 0,
    "retry_delay": dt.timedelta(seconds=300),
    "retry_exponential_backoff": False,
    "max_retry_delay": None,
    "pool": DEFAULT_POOL,
    "pool_slots": 1,
    "priority_weight": 1,
    "weight_rule": WeightRule.DOWNSTREAM,
    "max_active_tis_per_dag": None,
    "max_active_tis_per_dagrun": None,
    "execution_timeout": None,
    "trigger_rule": TriggerRule.ALL_SUCCESS,
    "queue": "default",
}


class BaseOperator(DependencyMixin):
    """A task in a DAG. Subclasses implement `execute(context)`.

    Every parameter left unset is taken from the DAG's `default_args`, then
    from BASE_DEFAULTS. Values are validated here, so a bad one fails where
    the DAG is defined, naming the DAG, the task and the fix.
    """

    #: Attributes rendered with Jinja against the run's context before execute().
    template_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        task_id: str,
        dag: DAG | None = None,
        owner: str = NOTSET,
        retries: int = NOTSET,
        retry_delay: dt.timedelta | float = NOTSET,
        retry_exponential_backoff: bool = NOTSET,
        max_retry_delay: dt.timedelta | float | None = NOTSET,
        pool: str = NOTSET,
        pool_slots: int = NOTSET,
        priority_weight: int = NOTSET,
        weight_rule: WeightRule | str = NOTSET,
        max_active_tis_per_dag: int | None = NOTSET,
        max_active_tis_per_dagrun: int | None = NOTSET,
        execution_timeout: dt.timedelta | float | None = NOTSET,
        trigger_rule: TriggerRule | str = NOTSET,
        queue: str = NOTSET,
        doc: str | None = None,
    ) -> None:
        dag = dag if dag is not None else registry.current_dag()
        if dag is None:
            raise DagAssignmentError(
                f"Task {task_id!r} was created outside a DAG. Create it inside "
                "`with DAG(...)` or a @dag function, or pass dag=."
            )
        self.dag: DAG = dag
        self.task_id = task_id
        if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
            raise self._fail(
                "task_id must be 1-250 letters, digits, '_', '-' or '.'; rename the task."
            )
        self.doc = doc
        given: dict[str, Any] = {
            "owner": owner,
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": retry_exponential_backoff,
            "max_retry_delay": max_retry_delay,
            "pool": pool,
            "pool_slots": pool_slots,
            "priority_weight": priority_weight,
            "weight_rule": weight_rule,
            "max_active_tis_per_dag": max_active_tis_per_dag,
            "max_active_tis_per_dagrun": max_active_tis_per_dagrun,
            "execution_timeout": execution_timeout,
            "trigger_rule": trigger_rule,
            "queue": queue,
        }
        defaults = dag.default_args
        values = {
            name: value if value is not NOTSET else defaults.get(name, BASE_DEFAULTS[name])
            for name, value in given.items()
        }
        self.owner: str = values["owner"]
        self.retries: int = self._check_int("retries", values["retries"], minimum=0)
        self.retry_delay: dt.timedelta = self._as_delta("retry_delay", values["retry_delay"])
        self.retry_exponential_backoff = bool(values["retry_exponential_backoff"])
        self.max_retry_delay = self._as_optional_delta("max_retry_delay", values["max_retry_delay"])
        self.pool: str = self._check_pool(values["pool"])
        self.pool_slots: int = self._check_int("pool_slots", values["pool_slots"], minimum=1)
        self.priority_weight: int = self._check_int("priority_weight", values["priority_weight"])
        self.weight_rule: WeightRule = self._as_enum(
            "weight_rule", WeightRule, values["weight_rule"]
        )
        self.trigger_rule: TriggerRule = self._as_enum(
            "trigger_rule", TriggerRule, values["trigger_rule"]
        )
        limit = values["max_active_tis_per_dag"]
        self.max_active_tis_per_dag: int | None = (
            None if limit is None else self._check_int("max_active_tis_per_dag", limit, minimum=1)
        )
        run_limit = values["max_active_tis_per_dagrun"]
        self.max_active_tis_per_dagrun: int | None = (
            None
            if run_limit is None
            else self._check_int("max_active_tis_per_dagrun", run_limit, minimum=1)
        )
        self.execution_timeout = self._as_optional_delta(
            "execution_timeout", values["execution_timeout"]
        )
        if self.execution_timeout is not None and not self.execution_timeout:
            # A zero timer would silently mean "no timeout" to setitimer.
            raise self._fail("execution_timeout must be positive; use None for no timeout.")
        self.queue: str = values["queue"]
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        dag.add_task(self)

    # -- mapping -----------------------------------------------------------

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """The arguments every instance of a mapped task shares; then `.expand(...)` it.

        `PythonOperator.partial(task_id="p", python_callable=f).expand(op_args=[[1], [2]])`
        makes one task instance per item (see taskkit.authoring.mapping).
        """
        from taskkit.authoring.mapping import OperatorPartial

        return OperatorPartial(cls, kwargs)

    # -- running -----------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Do the task's work; the return value becomes its XCom."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    # -- setup and teardown ----------------------------------------------------

    def as_setup(self) -> BaseOperator:
        """Make this a setup task: it creates what the work after it needs."""
        self.is_setup = True
        self.dag.invalidate()
        return self

    def as_teardown(
        self,
        *,
        setups: DependencyMixin | Sequence[DependencyMixin] | None = None,
        on_failure_fail_dagrun: bool = False,
    ) -> BaseOperator:
        """Make this a teardown task: it runs once the work is done, even if it failed.

        It runs when one of its upstream setups succeeded (trigger rule
        all_done_setup_success); `setups` are made its upstream and marked as
        setups. Its failure does not fail the run unless `on_failure_fail_dagrun`.
        """
        self.is_teardown = True
        self.on_failure_fail_dagrun = on_failure_fail_dagrun
        self.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
        if setups is not None:
            for setup in [setups] if isinstance(setups, DependencyMixin) else setups:
                for operator in setup.as_operators():
                    operator.as_setup()
                    operator.add_edge_to(self)
        self.dag.invalidate()
        return self

    # -- graph -------------------------------------------------------------

    def as_operators(self) -> list[BaseOperator]:
        return [self]

    def add_edge_to(self, other: BaseOperator) -> None:
        """Make `other` run after this task (both must be in the same DAG)."""
        if other.dag is not self.dag:
            raise DagAssignmentError(
                f"Cannot make {other.task_id!r} (DAG {other.dag.dag_id!r}) depend on "
                f"{self.task_id!r} (DAG {self.dag.dag_id!r}): tasks in different DAGs "
                "cannot depend on each other. Move both tasks into one DAG."
            )
        if other.task_id in self.downstream_task_ids:
            return
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)
        self.dag.invalidate()

    @property
    def output(self) -> XComArg:
        """This task's return value, to pass to a @task function or a PythonOperator."""
        from taskkit.authoring.decorators import XComArg

        return XComArg(self)

    @property
    def priority_weight_total(self) -> int:
        """Effective priority under this task's weight_rule, over the whole DAG."""
        return self.dag.spec.tasks[self.task_id].priority_weight_total

    def to_spec(self, priority_weight_total: int) -> TaskSpec:
        """The frozen description the scheduler works from."""
        return TaskSpec(
            task_id=self.task_id,
            upstream=frozenset(self.upstream_task_ids),
            downstream=frozenset(self.downstream_task_ids),
            owner=self.owner,
            pool=self.pool,
            pool_slots=self.pool_slots,
            priority_weight=self.priority_weight,
            weight_rule=self.weight_rule,
            priority_weight_total=priority_weight_total,
            trigger_rule=self.trigger_rule,
            retries=self.retries,
            retry_delay=self.retry_delay,
            retry_exponential_backoff=self.retry_exponential_backoff,
            max_retry_delay=self.max_retry_delay,
            max_active_tis_per_dag=self.max_active_tis_per_dag,
            max_active_tis_per_dagrun=self.max_active_tis_per_dagrun,
            execution_timeout=self.execution_timeout,
            queue=self.queue,
            is_setup=self.is_setup,
            is_teardown=self.is_teardown,
            on_failure_fail_dagrun=self.on_failure_fail_dagrun,
            upstream_setups=frozenset(
                t for t in self.upstream_task_ids if self.dag.task_dict[t].is_setup
            ),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dag.dag_id}.{self.task_id}>"

    # -- validation ----------------------------------------------------------

    def _fail(self, message: str) -> InvalidTaskParameterError:
        return InvalidTaskParameterError(
            f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: {message}"
        )

    def _check_int(self, name: str, value: Any, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(
                f"{name} must be an int, got {value!r} ({type(value).__name__}); "
                f"pass a whole number such as {name}={max(minimum or 1, 1)}."
            )
        if minimum is not None and value < minimum:
            raise self._fail(
                f"{name} must be >= {minimum}, got {value}; set {name}={minimum} or more."
            )
        if abs(value) > _INT64_MAX:
            raise self._fail(f"{name}={value} does not fit in 64 bits; use a smaller number.")
        return value

    def _check_pool(self, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self._fail(f"pool must be a non-empty pool name, got {value!r}.")
        return value

    def _as_enum(self, name: str, enum_type: type[Any], value: Any) -> Any:
        try:
            return enum_type(value)
        except ValueError:
            allowed = ", ".join(m.value for m in enum_type)
            raise self._fail(f"unknown {name} {value!r}; use one of: {allowed}.") from None

    def _as_delta(self, name: str, value: Any) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            delta = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            delta = dt.timedelta(seconds=value)
        else:
            raise self._fail(f"{name} must be a timedelta or seconds, got {value!r}.")
        if delta < dt.timedelta(0):
            raise self._fail(f"{name} must not be negative, got {delta}.")
        return delta

    def _as_optional_delta(self, name: str, value: Any) -> dt.timedelta | None:
        return None if value is None else self._as_delta(name, value)
