"""BaseOperator: the parameters every task has, their validation and default_args."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from taskkit import validation
from taskkit.authoring import registry, setup_scope
from taskkit.authoring.arguments import (
    AIRFLOW_2_TASK_ARGS,
    TASK_DEFAULTS,
    airflow_only_reason,
    check_default_args,
    did_you_mean,
    is_airflow_only_task_arg,
    renamed_default_args,
    take_airflow_2_names,
)
from taskkit.authoring.dependencies import DependencyMixin
from taskkit.authoring.logging_mixin import LoggingMixin
from taskkit.authoring.params import ParamsDict
from taskkit.authoring.shared_state import compact_state, share_defaults
from taskkit.authoring.templating import render
from taskkit.errors import (
    AssetDefinitionError,
    DagAssignmentError,
    InvalidNameError,
    InvalidTaskParameterError,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
)
from taskkit.model.assets import Asset, AssetAlias, AssetRef
from taskkit.model.results import DEFERRAL_TIMEOUT, FAIL_METHOD
from taskkit.model.task import TaskSpec
from taskkit.states import TriggerRule, WeightRule

if TYPE_CHECKING:
    from taskkit.authoring.context import Context
    from taskkit.authoring.dag import DAG
    from taskkit.authoring.decorators import XComArg
    from taskkit.authoring.mapping import OperatorPartial
    from taskkit.authoring.retry_policy import RetryPolicy
    from taskkit.authoring.taskgroup import TaskGroup

#: A task callback: called with the try's context.
Callback = Callable[["Context"], Any]


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()

_TASK_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")
#: The parameters default_args may fill, with the value used when neither sets one
#: (the table lives in arguments.py beside the Airflow-only keys).
BASE_DEFAULTS: Mapping[str, Any] = TASK_DEFAULTS
_CALLBACKS = (
    "on_execute_callback",
    "on_success_callback",
    "on_failure_callback",
    "on_retry_callback",
    "on_skipped_callback",
)
_DOCS = ("doc", "doc_md", "doc_rst", "doc_json", "doc_yaml")


class BaseOperator(DependencyMixin, LoggingMixin):
    """A task in a DAG. Subclasses implement `execute(context)`.

    Every parameter left unset is taken from the operator's own
    `default_args`, then its TaskGroups' (innermost first), then the DAG's,
    then from BASE_DEFAULTS. An Airflow argument taskkit does not implement
    (`email`, `sla`…) is accepted and leaves a warning on the DAG. Values
    are validated here, so a bad one fails where the DAG is defined, naming
    the DAG, the task and the fix.
    """

    on_execute_callback: list[Callback]
    on_success_callback: list[Callback]
    on_failure_callback: list[Callback]
    on_retry_callback: list[Callback]
    on_skipped_callback: list[Callback]

    #: Attributes rendered with Jinja against the run's context before execute().
    template_fields: ClassVar[tuple[str, ...]] = ()
    #: A template field value ending in one of these names a template file, found in the
    #: DAG file's folder or the DAG's template_searchpath.
    template_ext: ClassVar[tuple[str, ...]] = ()
    #: The template fields that hold another task's output (an XComArg, e.g. `task.output`),
    #: found when the DAG is validated (`link_template_outputs`); a try fills them in.
    output_fields: tuple[str, ...] = ()

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
        retry_policy: RetryPolicy | None = NOTSET,
        pool: str = NOTSET,
        pool_slots: int = NOTSET,
        priority_weight: int = NOTSET,
        weight_rule: WeightRule | str = NOTSET,
        max_active_tis_per_dag: int | None = NOTSET,
        execution_timeout: dt.timedelta | float | None = NOTSET,
        trigger_rule: TriggerRule | str = NOTSET,
        queue: str = NOTSET,
        doc: str | None = NOTSET,
        doc_md: str | None = NOTSET,
        doc_rst: str | None = NOTSET,
        doc_json: str | None = NOTSET,
        doc_yaml: str | None = NOTSET,
        task_display_name: str | None = NOTSET,
        depends_on_past: bool = NOTSET,
        wait_for_downstream: bool = NOTSET,
        on_execute_callback: Callback | list[Callback] | None = NOTSET,
        on_success_callback: Callback | list[Callback] | None = NOTSET,
        on_failure_callback: Callback | list[Callback] | None = NOTSET,
        on_retry_callback: Callback | list[Callback] | None = NOTSET,
        on_skipped_callback: Callback | list[Callback] | None = NOTSET,
        do_xcom_push: bool = NOTSET,
        multiple_outputs: bool = NOTSET,
        max_active_tis_per_dagrun: int | None = NOTSET,
        map_index_template: str | None = NOTSET,
        render_template_as_native_obj: bool | None = NOTSET,
        params: Mapping[str, Any] | None = None,
        default_args: Mapping[str, Any] | None = None,
        task_group: TaskGroup | None = None,
        inlets: Iterable[Asset | AssetAlias | AssetRef | str] | Asset | AssetRef | None = None,
        outlets: Iterable[Asset | AssetAlias | AssetRef | str]
        | Asset
        | AssetAlias
        | AssetRef
        | None = None,
        **airflow_only: Any,
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
        group = task_group if task_group is not None else registry.current_group(dag)
        #: The TaskGroup this task belongs to (the DAG's root group at top level).
        self.task_group: TaskGroup = group if group is not None else dag.task_group
        self.task_id = self.task_group.child_id(task_id)
        if airflow_only:
            renamed = take_airflow_2_names(
                f"DAG {dag.dag_id!r}, task {self.task_id!r}",
                AIRFLOW_2_TASK_ARGS,
                airflow_only,
                [] if max_active_tis_per_dag is NOTSET else ["max_active_tis_per_dag"],
            )
            max_active_tis_per_dag = renamed.get("max_active_tis_per_dag", max_active_tis_per_dag)
        self._accept_airflow_only(airflow_only)
        #: The assets this task reads (shown to it as `inlets` / `inlet_events`).
        self.inlets: list[Asset | AssetAlias | AssetRef] = self._assets("inlets", inlets)
        #: The assets this task updates: each success records one event per asset.
        self.outlets: list[Asset | AssetAlias | AssetRef] = self._assets("outlets", outlets)
        given: dict[str, Any] = {
            "owner": owner,
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": retry_exponential_backoff,
            "max_retry_delay": max_retry_delay,
            "retry_policy": retry_policy,
            "pool": pool,
            "pool_slots": pool_slots,
            "priority_weight": priority_weight,
            "weight_rule": weight_rule,
            "max_active_tis_per_dag": max_active_tis_per_dag,
            "execution_timeout": execution_timeout,
            "trigger_rule": trigger_rule,
            "queue": queue,
            "doc": doc,
            "doc_md": doc_md,
            "doc_rst": doc_rst,
            "doc_json": doc_json,
            "doc_yaml": doc_yaml,
            "task_display_name": task_display_name,
            "depends_on_past": depends_on_past,
            "wait_for_downstream": wait_for_downstream,
            "on_execute_callback": on_execute_callback,
            "on_success_callback": on_success_callback,
            "on_failure_callback": on_failure_callback,
            "on_retry_callback": on_retry_callback,
            "on_skipped_callback": on_skipped_callback,
            "do_xcom_push": do_xcom_push,
            "multiple_outputs": multiple_outputs,
            "max_active_tis_per_dagrun": max_active_tis_per_dagrun,
            "map_index_template": map_index_template,
            "render_template_as_native_obj": render_template_as_native_obj,
        }
        if default_args:
            default_args = renamed_default_args(dag.dag_id, default_args)
            dag.warnings.extend(
                w for w in check_default_args(dag.dag_id, default_args) if w not in dag.warnings
            )
        defaults = {**self.task_group.effective_default_args(), **(default_args or {})}
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
        if self.pool_slots > validation.MAX_SLOTS:
            raise self._fail(
                f"pool_slots={self.pool_slots} is more than any pool can hold "
                f"({validation.MAX_SLOTS}); use a smaller number."
            )
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
        self._set_airflow_task_options(values)
        own_params = ParamsDict(defaults.get("params"))
        own_params.update(params or {})
        #: This task's own params; the run's params are the DAG's, these, then the conf.
        self.params = own_params
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        dag.add_task(self)

    def _set_airflow_task_options(self, values: Mapping[str, Any]) -> None:
        """The options issue 9 added: stored and checked here, applied by the run engine."""
        for name in _DOCS:
            setattr(self, name, self._optional_str(name, values[name]))
        self.task_display_name: str | None = self._optional_str(
            "task_display_name", values["task_display_name"]
        )
        self.map_index_template: str | None = self._optional_str(
            "map_index_template", values["map_index_template"]
        )
        self.wait_for_downstream = self._check_bool(
            "wait_for_downstream", values["wait_for_downstream"]
        )
        # As in Airflow: waiting for the previous run's downstream implies depending on it.
        self.depends_on_past = (
            self._check_bool("depends_on_past", values["depends_on_past"])
            or self.wait_for_downstream
        )
        self.do_xcom_push = self._check_bool("do_xcom_push", values["do_xcom_push"])
        self.multiple_outputs = self._check_bool("multiple_outputs", values["multiple_outputs"])
        native = values["render_template_as_native_obj"]
        self.render_template_as_native_obj: bool | None = (
            None if native is None else self._check_bool("render_template_as_native_obj", native)
        )
        limit = values["max_active_tis_per_dagrun"]
        self.max_active_tis_per_dagrun: int | None = (
            None
            if limit is None
            else self._check_int("max_active_tis_per_dagrun", limit, minimum=1)
        )
        for name in _CALLBACKS:
            setattr(self, name, self._callbacks(name, values[name]))
        self.retry_policy: RetryPolicy | None = self._check_retry_policy(values["retry_policy"])

    def _check_retry_policy(self, policy: Any) -> RetryPolicy | None:
        """A policy with an `evaluate` method, or None; a rule's exception path that imports
        nothing here leaves a DAG warning (it never matches where it does not import)."""
        if policy is None:
            return None
        if not callable(getattr(policy, "evaluate", None)):
            raise self._fail(
                f"retry_policy must be a RetryPolicy (ExceptionRetryPolicy(rules=[...]), or a "
                f"subclass with evaluate()); got {policy!r}."
            )
        unresolved = getattr(policy, "unresolved", None)
        for path in unresolved() if callable(unresolved) else ():
            self._warn_once(
                f"DAG {self.dag.dag_id!r}: retry_policy exception {path!r} ",
                f"DAG {self.dag.dag_id!r}: retry_policy exception {path!r} (task "
                f"{self.task_id!r}) cannot be imported here, and its rule matches nothing where "
                "that import fails; check the spelling, or install its package where tasks run.",
            )
        return policy  # type: ignore[no-any-return]

    def _accept_airflow_only(self, arguments: Mapping[str, Any]) -> None:
        """Airflow-only arguments become a DAG warning; anything else is a mistake."""
        for name in arguments:
            if not is_airflow_only_task_arg(name):
                known = [*TASK_DEFAULTS, "params", "default_args", "task_group", "dag"]
                raise self._fail(
                    f"unknown argument {name!r}.{did_you_mean(name, known)} "
                    "Fix the name or remove it (docs/airflow.md lists the task arguments)."
                )
            warning = (
                f"DAG {self.dag.dag_id!r}: argument {name!r} (first on task {self.task_id!r}) "
                f"is an Airflow setting taskkit does not implement "
                f"({airflow_only_reason(name)}); it is ignored."
            )
            self._warn_once(f"DAG {self.dag.dag_id!r}: argument {name!r} ", warning)

    def _warn_once(self, key: str, warning: str) -> None:
        """Put `warning` on the DAG unless a warning starting with `key` is there already
        (the first task to trip over an Airflow-only setting names it for all)."""
        if not any(w.startswith(key) for w in self.dag.warnings):
            self.dag.warnings.append(warning)

    # -- mapping -----------------------------------------------------------

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """The arguments every instance of a mapped task shares; then `.expand(...)` it.

        `PythonOperator.partial(task_id="p", python_callable=f).expand(op_args=[[1], [2]])`
        makes one task instance per item (see taskkit.authoring.mapping).
        """
        # Lazy: mapping loads only when a DAG maps a task; it subclasses this module's classes.
        from taskkit.authoring.mapping import OperatorPartial

        return OperatorPartial(cls, kwargs)

    # -- running -----------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Do the task's work; the return value becomes its XCom."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    def defer(
        self,
        *,
        trigger: Any,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: dt.timedelta | float | None = None,
    ) -> NoReturn:
        """End this try's turn until `trigger` (a BaseTrigger) fires; never returns.

        The task instance waits in state deferred, holding no worker and no
        parallelism slot (pool slots only if its pool includes deferred
        tasks). When the trigger fires, the same try resumes by calling
        `self.<method_name>(context, event=<the event's payload>, **kwargs)`.
        Past `timeout` (a timedelta or seconds) the task fails with
        TaskDeferralTimeout instead. `kwargs` and the trigger's arguments are
        stored as tagged JSON, so they must be values XComs could hold.
        """
        if not callable(getattr(trigger, "serialize", None)) or not hasattr(trigger, "run"):
            raise TypeError(
                f"defer(trigger=...) takes a BaseTrigger, got {type(trigger).__name__}; "
                "subclass taskkit.triggers.base.BaseTrigger."
            )
        if not callable(getattr(self, method_name, None)):
            raise AttributeError(
                f"defer(method_name={method_name!r}): {type(self).__name__} has no such method; "
                "name the method the resumed try should call."
            )
        delta = dt.timedelta(seconds=timeout) if isinstance(timeout, (int, float)) else timeout
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=delta)

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context
    ) -> Any:
        """Called instead of `execute` when a deferred try resumes (Airflow's entry point).

        `next_method` "__fail__" means the wait failed: the trigger raised
        (TaskDeferralError) or the deferral timed out (TaskDeferralTimeout).
        """
        kwargs = dict(next_kwargs or {})
        if next_method == FAIL_METHOD:
            error = str(kwargs.get("error", "unknown"))
            if kwargs.get("traceback"):
                print(f"Trigger failed:\n{kwargs['traceback']}", file=sys.stderr)
            if error == DEFERRAL_TIMEOUT:
                raise TaskDeferralTimeout(error)
            raise TaskDeferralError(error)
        return getattr(self, next_method)(context, **kwargs)

    def render_template(self, content: Any, context: Context) -> Any:
        """`content` rendered as this task's template fields are (strings inside lists and
        dicts too; a value ending in one of its `template_ext` is a template file)."""
        return render(content, context, self)

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

    def __enter__(self) -> BaseOperator:
        """`with teardown_task:` (or a setup task): the tasks created inside run between the
        scope's setups and teardowns (setup_scope.py)."""
        setup_scope.enter(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        setup_scope.leave(self, failed=exc_type is not None)

    # -- graph -------------------------------------------------------------

    def as_operators(self) -> list[BaseOperator]:
        return [self]

    def link_template_outputs(self) -> None:
        """Make the tasks whose outputs (XComArgs) sit in template fields upstream of this one.

        As in Airflow, `BashOperator(bash_command=make_command())` runs after
        `make_command` and gets its value. Done when the DAG is validated, since
        subclasses set their fields after BaseOperator's `__init__`. A task of a
        mapped group gets the group's arguments its own way (mapped_group.py).
        """
        if self.task_group.closest_mapped() is not None:
            return
        # Lazy: decorators builds on this module (its PythonOperator is a BaseOperator).
        from taskkit.authoring.decorators import find_xcom_args

        fields = []
        for field in self.template_fields:
            outputs = find_xcom_args(getattr(self, field, None))
            if outputs:
                fields.append(field)
            for output in outputs:
                for source in output.as_operators():
                    source.add_edge_to(self)
        if fields:
            self.output_fields = tuple(fields)

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
        # Lazy: decorators builds on this module (its PythonOperator is a BaseOperator).
        from taskkit.authoring.decorators import XComArg

        return XComArg(self)

    @property
    def priority_weight_total(self) -> int:
        """Effective priority under this task's weight_rule, over the whole DAG."""
        return self.dag.spec.tasks[self.task_id].priority_weight_total

    def to_spec(self, priority_weight_total: int) -> TaskSpec:
        """The frozen description the scheduler works from."""
        group = self.task_group.closest_mapped()  # in a mapped group, mapped with it
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
            depends_on_past=self.depends_on_past,
            wait_for_downstream=self.wait_for_downstream,
            map_spec=group.expansion.map_spec() if group is not None else None,
            mapped_group=group.group_id if group is not None else None,
            outlets=tuple(a.uri for a in self.outlets if isinstance(a, Asset)),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dag.dag_id}.{self.task_id}>"

    def __getstate__(self) -> dict[str, Any]:
        """The attributes that differ from the class's: unpickled, the rest stay shared."""
        return compact_state(self)

    # -- validation ----------------------------------------------------------

    def _assets(self, name: str, value: object) -> list[Asset | AssetAlias | AssetRef]:
        """Inlets/outlets as assets; a string is taken as an asset URI, as Airflow 2 did.

        An Asset.ref(...) stays a reference: the try resolves it (context.try_context).
        """
        single = Asset | AssetAlias | AssetRef | str
        items = [value] if isinstance(value, single) else list(value or ())  # type: ignore[call-overload]
        assets: list[Any] = []
        for item in items:
            try:
                assets.append(Asset(item) if isinstance(item, str) else item)
            except AssetDefinitionError as exc:
                raise AssetDefinitionError(
                    f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: {name}: {exc}"
                ) from None
            if not isinstance(assets[-1], Asset | AssetAlias | AssetRef):
                raise AssetDefinitionError(
                    f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: {name} must hold Asset, "
                    f"AssetAlias or Asset.ref(...) objects (or URI strings), got {item!r}."
                )
        return assets

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
        if abs(value) > validation.INT64_MAX:
            raise self._fail(f"{name}={value} does not fit in 64 bits; use a smaller number.")
        return value

    def _check_bool(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._fail(f"{name} must be True or False, got {value!r}.")
        return value

    def _optional_str(self, name: str, value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            raise self._fail(f"{name} must be a string or None, got {value!r}.")
        return value

    def _callbacks(self, name: str, value: Any) -> list[Callback]:
        """None, one callable or a list of them, as a list (Airflow 3 keeps lists too)."""
        if value is None:
            return []
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if not callable(item):
                raise self._fail(f"{name} must be a callable or a list of callables, got {item!r}.")
        return items

    def _check_pool(self, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self._fail(f"pool must be a non-empty pool name, got {value!r}.")
        try:
            return validation.pool_name(value)
        except InvalidNameError as exc:
            raise self._fail(str(exc)) from None

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


share_defaults(
    BaseOperator,
    values={
        **{name: value for name, value in TASK_DEFAULTS.items() if name not in _CALLBACKS},
        "is_setup": False,
        "is_teardown": False,
        "on_failure_fail_dagrun": False,
    },
    fresh={
        **dict.fromkeys(("inlets", "outlets", *_CALLBACKS), list),
        "upstream_task_ids": set,
        "downstream_task_ids": set,
        "params": ParamsDict,
    },
)
