"""How a try ended: the record a worker hands back to whoever decides what comes next."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from taskkit.model.assets import AssetEventSpec


class TryOutcome(enum.Enum):
    """How one try ended, as the worker reports it."""

    SUCCESS = "success"
    FAILED = "failed"  #: raised, crashed, was killed or timed out
    SKIPPED = "skipped"  #: asked to be skipped (AirflowSkipException, bash exit 99)
    #: a reschedule-mode sensor's poke found nothing: the same try pokes again at reschedule_at
    RESCHEDULED = "rescheduled"
    #: the try deferred itself to a trigger (`deferral`): it resumes when the trigger fires
    DEFERRED = "deferred"


class SkipScope(enum.Enum):
    """Which downstream tasks a short-circuiting try asks to skip."""

    DIRECT = "direct"  #: its direct downstream tasks; trigger rules decide the rest
    ALL = "all"  #: every descendant, whatever its trigger rule


@attrs.frozen
class EncodedXComSequence:
    """The values the instances of a mapped task pushed under one key, in map-index order.

    Each is still encoded (an execution.base.EncodedXCom); instances that
    pushed nothing are left out, as Airflow leaves them out. A try decodes
    it into a list: the reduce step of a mapped task.
    """

    values: tuple[Any, ...] = attrs.field(repr=False)
    #: The map index each value came from (`xcom_pull(map_indexes=...)` selects by them).
    map_indexes: tuple[int, ...] = ()


#: The next_method of a resumed try whose wait failed (Airflow's TRIGGER_FAIL_REPR).
FAIL_METHOD = "__fail__"
#: The error of a deferral that timed out (Airflow's TriggerFailureReason.TRIGGER_TIMEOUT).
DEFERRAL_TIMEOUT = "Trigger/execution timeout"


@attrs.frozen
class Deferral:
    """What a deferring try asks for: a trigger to run, and how to resume when it fires.

    Everything is plain text (the trigger's kwargs and the resume kwargs as
    tagged JSON), so the scheduler stores it and the triggerer rebuilds the
    trigger without either of them importing user code beyond the trigger.
    """

    #: The trigger class's import path, as `BaseTrigger.serialize()` names it.
    classpath: str
    #: The trigger's keyword arguments, tagged JSON.
    kwargs: str
    #: The operator method the resumed try calls, and its keyword arguments (tagged JSON).
    next_method: str
    next_kwargs: str
    #: When the wait fails with TaskDeferralTimeout (None: no timeout).
    timeout_at: dt.datetime | None = None


@attrs.frozen
class TryResult:
    """The outcome of one try, what it pushed and, when it failed, why.

    `xcoms` holds every value the try pushed (its return value under
    "return_value"), kept even when the try failed, as Airflow keeps them.
    `follow` is a branching try's choice of direct downstream tasks;
    `skip_downstream` a short-circuit's. The run engine applies both.
    `rendered_fields` are the task's template fields as this try rendered
    them (JSON-ready, capped: execution/rendered.py), for the UI and API.
    """

    outcome: TryOutcome
    error: str | None = None
    duration_s: float = 0.0
    #: False when the task asked to fail without retrying (AirflowFailException).
    retryable: bool = True
    xcoms: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    follow: frozenset[str] | None = None
    skip_downstream: SkipScope | None = None
    rendered_fields: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    #: RESCHEDULED only: when to poke again, and when this try's first poke began (its
    #: sensor timeout counts from then, across reschedules).
    reschedule_at: dt.datetime | None = None
    first_poke_at: dt.datetime | None = None
    #: DEFERRED only: the trigger to wait on and how to resume.
    deferral: Deferral | None = None
    #: A mapped instance's map_index_template, rendered after the try (None without one).
    rendered_map_index: str | None = None
    #: SUCCESS only: the asset events of the task's outlets, for the scheduler to record.
    asset_events: tuple[AssetEventSpec, ...] = ()
    #: FAILED and retryable only: the wait before the next try that the task's retry
    #: policy chose, used as it is (no backoff, no max_retry_delay), as in Airflow.
    retry_delay: dt.timedelta | None = None
