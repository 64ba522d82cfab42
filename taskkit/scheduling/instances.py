"""What the run engine tracks and hands its drivers, with no I/O.

A `TaskInstance` per (task_id, map_index), the progress of an expanded mapped
task, and the `Transition`s the engine emits, each checked against
`states.ALLOWED_TRANSITIONS` when created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from taskkit.errors import IllegalTransitionError
from taskkit.model.results import Deferral
from taskkit.states import ALLOWED_TRANSITIONS, State

#: Names one task instance of the run: (task_id, map_index), map_index -1 when not mapped.
TIKey = tuple[str, int]
#: XComs of a run: (task_id, map_index) -> key -> value (opaque to the engine).
XComMap = dict[TIKey, dict[str, Any]]
NO_XCOMS: Mapping[str, Any] = MappingProxyType({})


def mapped_state(states: Iterable[State]) -> State:
    """The overall state of a mapped task whose instances have all finished.

    Failed if any instance failed (or was upstream_failed), skipped if all
    were skipped, else success: what its downstream tasks' trigger rules see.
    """
    seen = set(states) - {State.REMOVED}
    if seen & {State.FAILED, State.UPSTREAM_FAILED}:
        return State.FAILED
    if seen == {State.SKIPPED}:
        return State.SKIPPED
    return State.SUCCESS


@attrs.define
class Expanded:
    """Progress of an expanded mapped task: its size, its instances' states, what is unfinished."""

    count: int
    unfinished: int
    state: State = State.RUNNING  #: its overall state; RUNNING while instances are unfinished
    #: How many instances are in each state (what trigger rules downstream count).
    tally: dict[State, int] = attrs.Factory(dict)
    #: The map indexes of instances still in state none (waiting for their trigger rule).
    waiting: set[int] = attrs.Factory(set)

    def count_move(self, source: State | None, target: State) -> None:
        if source is not None:
            self.tally[source] -= 1
        self.tally[target] = self.tally.get(target, 0) + 1


@attrs.define
class TaskInstance:
    """One task instance as the engine tracks it."""

    state: State
    try_number: int = 0
    max_tries: int = 1
    #: When it is released: the retry time (up_for_retry), the next poke (up_for_reschedule)
    #: or its deferral's timeout (deferred).
    next_retry_at: dt.datetime | None = None
    #: Set while a reschedule-mode sensor's try spans several pokes: its next queue
    #: continues that try rather than starting a new one (Airflow's semantics).
    first_poke_at: dt.datetime | None = None
    #: A mapped instance's map_index_template as its last try rendered it.
    rendered_map_index: str | None = None
    #: Set while its try is deferred or resuming: the method the resumed try calls, and its
    #: keyword arguments (tagged JSON; the trigger's event is added when it fires).
    next_method: str | None = None
    next_kwargs: str | None = None


@attrs.frozen
class Transition:
    """One state change of one task instance, as the engine decided it.

    Creating one with a target its source may not move to raises
    IllegalTransitionError: the rules in states.py are enforced, not documented.
    """

    task_id: str
    source: State
    target: State
    try_number: int
    next_retry_at: dt.datetime | None = None
    error: str | None = None
    #: The values the try pushed, recorded with a finished try (empty otherwise).
    xcoms: Mapping[str, Any] = attrs.field(default=NO_XCOMS, repr=False)
    map_index: int = -1
    #: With a finished try: when its first poke began if it continues (up_for_reschedule).
    first_poke_at: dt.datetime | None = None
    #: The instance's map_index_template as its finished try rendered it.
    rendered_map_index: str | None = None
    #: To deferred: the trigger to run and how to resume (the driver stores the trigger).
    deferral: Deferral | None = None
    #: To deferred, or back to scheduled when its trigger fired: how the try resumes.
    #: None on every other transition that ends a try (the columns are cleared).
    next_method: str | None = None
    next_kwargs: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.target not in ALLOWED_TRANSITIONS[self.source]:
            raise IllegalTransitionError(self.task_id, self.source, self.target)
