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
    #: A mapped instance's map_index_template, rendered after the try (None without one).
    rendered_map_index: str | None = None
    #: SUCCESS only: the asset events of the task's outlets, for the scheduler to record.
    asset_events: tuple[AssetEventSpec, ...] = ()
