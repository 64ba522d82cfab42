"""The frozen description of one task, as the scheduler and the runtime see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from taskkit.states import TriggerRule, WeightRule

DEFAULT_POOL = "default_pool"

#: The one empty set of task ids every TaskSpec without upstream (or downstream) tasks
#: shares: CPython makes a new 216-byte frozenset per `frozenset()`, three per task.
_NO_IDS: frozenset[str] = frozenset()


def _ids(value: Iterable[str]) -> frozenset[str]:
    ids = frozenset(value)
    return ids if ids else _NO_IDS


@attrs.frozen
class MapLength:
    """Where the length of one expanded argument comes from, known without decoding values.

    Exactly one of: `literal` (a list or dict written in the DAG file), an
    upstream task's XCom (`task_id`, `key`; its length is recorded when the
    try stores it), or `parts` zipped together (the shortest decides, or the
    longest with `longest`, as XComArg.zip with a fillvalue).
    """

    literal: int | None = None
    task_id: str | None = None
    key: str = "return_value"
    parts: tuple[MapLength, ...] = ()
    longest: bool = False


@attrs.frozen
class MapSpec:
    """How many instances a mapped task expands to: the product of its arguments' lengths."""

    lengths: tuple[MapLength, ...]


@attrs.frozen
class TaskSpec:
    """Everything the scheduler needs to know about a task, without its callable.

    Built from an operator when its DAG is finalised; `priority_weight_total`
    is computed once per DAG version over the whole graph.
    """

    task_id: str
    upstream: frozenset[str] = attrs.field(default=_NO_IDS, converter=_ids)
    downstream: frozenset[str] = attrs.field(default=_NO_IDS, converter=_ids)
    owner: str = "taskkit"
    pool: str = DEFAULT_POOL
    pool_slots: int = 1
    priority_weight: int = 1
    weight_rule: WeightRule = WeightRule.DOWNSTREAM
    priority_weight_total: int = 1
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    retries: int = 0
    retry_delay: dt.timedelta = dt.timedelta(seconds=300)
    retry_exponential_backoff: bool = False
    max_retry_delay: dt.timedelta | None = None
    max_active_tis_per_dag: int | None = None
    execution_timeout: dt.timedelta | None = None
    queue: str = "default"
    is_setup: bool = False
    is_teardown: bool = False
    #: A teardown whose failure fails the run (teardowns are otherwise left out of its state).
    on_failure_fail_dagrun: bool = False
    #: The direct upstream tasks that are setup tasks (for all_done_setup_success).
    upstream_setups: frozenset[str] = attrs.field(default=_NO_IDS, converter=_ids)
    #: Run only once this task succeeded (or was skipped) in the previous run.
    depends_on_past: bool = False
    #: ... and its direct downstream tasks there did too.
    wait_for_downstream: bool = False
    #: How many of this task's instances may be queued or running in one run at once.
    max_active_tis_per_dagrun: int | None = None
    #: Set for a mapped task (`.expand(...)`): its instances are decided when it is ready.
    map_spec: MapSpec | None = None
    #: The mapped task group the task is in (its map_spec is the group's): a task of the
    #: same group upstream of it counts, and hands on its value, per map index.
    mapped_group: str | None = None
    #: The URIs of the assets a success of this task updates (its outlets).
    outlets: tuple[str, ...] = ()

    @property
    def max_tries(self) -> int:
        """How many tries the task gets in all: the first plus its retries."""
        return self.retries + 1

    def __reduce__(self) -> tuple[Any, tuple[str, dict[str, object]]]:
        """Pickled as its id and the fields that differ from their defaults.

        A stored DAG spec of 100,000 tasks is then a fraction of the size, and
        unpickling shares the defaults (one empty set, one retry delay) instead
        of building a copy of each per task.
        """
        changed = {
            name: value
            for name, default in _DEFAULTS
            if (value := getattr(self, name)) is not default and value != default
        }
        return (_task_spec, (self.task_id, changed))


#: (name, default) of every TaskSpec field but task_id, in declaration order.
_DEFAULTS: tuple[tuple[str, object], ...] = tuple(
    (field.name, field.default) for field in attrs.fields(TaskSpec)[1:]
)


def _task_spec(task_id: str, changed: dict[str, Any]) -> TaskSpec:
    """Rebuild a pickled TaskSpec (see TaskSpec.__reduce__)."""
    return TaskSpec(task_id, **changed)
