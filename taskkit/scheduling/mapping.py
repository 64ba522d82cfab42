"""How mapped tasks count, with no I/O: expansion lengths and per-instance upstream tallies.

The run engine asks these rules how many instances a mapped task expands to
(from literals and the `length` recorded with upstream XComs) and what a task
instance's trigger rule sees upstream, a mapped upstream counting once per
instance, as Airflow counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from taskkit.model.task import MapLength, TaskSpec
from taskkit.scheduling.instances import Expanded, TaskInstance, TIKey, XComMap
from taskkit.scheduling.readiness import UpstreamCounts
from taskkit.states import FINISHED_STATES, State

#: A task's state as trigger rules see it (a mapped task's overall state).
StateOf = Callable[[str], State]


def map_count(
    lengths: Iterable[MapLength],
    xcoms: XComMap,
    expanded: Mapping[str, Expanded],
    state_of: StateOf,
) -> int | str:
    """How many instances a mapped task expands to, or why it cannot be expanded (the first)."""
    count = 1
    for length in lengths:
        found = _length(length, xcoms, expanded, state_of)
        if isinstance(found, str):
            return found
        count *= found
    return count


def sources_finished(lengths: Iterable[MapLength], state_of: StateOf) -> bool:
    """Whether every upstream task a mapped task's length comes from has finished."""
    for length in lengths:
        if length.task_id is not None and state_of(length.task_id) not in FINISHED_STATES:
            return False
        if not sources_finished(length.parts, state_of):
            return False
    return True


def too_many(count: int, limit: int) -> str:
    return (
        f"expanding would create {count} task instances, more than core.max_map_length={limit}: "
        "expand over less, or raise core.max_map_length"
    )


def _length(
    length: MapLength, xcoms: XComMap, expanded: Mapping[str, Expanded], state_of: StateOf
) -> int | str:
    """How long one expanded argument is, or why it cannot be expanded over."""
    if length.literal is not None:
        return length.literal
    if length.parts:
        found = [_length(part, xcoms, expanded, state_of) for part in length.parts]
        for item in found:
            if isinstance(item, str):
                return item
        sizes = [int(item) for item in found]
        return max(sizes) if length.longest else min(sizes)
    assert length.task_id is not None
    source, key = length.task_id, length.key
    if source in expanded:
        return sum(key in xcoms.get((source, i), {}) for i in range(expanded[source].count))
    value = xcoms.get((source, -1), {}).get(key)
    if value is None:
        if state_of(source) is State.SKIPPED:
            return 0
        return f"task {source!r} pushed no XCom {key!r} to expand over"
    size = getattr(value, "length", None)
    if size is None:
        return (
            f"cannot expand over XCom {key!r} of task {source!r}: it is not a list or "
            "dict; return a list (or dict) from it"
        )
    return int(size)


def upstream_counts(
    task: TaskSpec,
    map_index: int,
    tis: Mapping[TIKey, TaskInstance],
    expanded: Mapping[str, Expanded],
    paired: frozenset[str],
) -> UpstreamCounts:
    """The states of a task instance's upstream task instances, as Airflow counts them.

    A mapped upstream counts once per instance (removed ones aside); one of
    the same mapped task group (in `paired`) counts only its instance
    `map_index`, and not at all for the unexpanded instance -1 (which then expands).
    """
    setup_ids = task.upstream_setups
    total = success = skipped = failed = upstream_failed = 0
    setups = setup_success = setup_skipped = 0
    for upstream in task.upstream:
        ti = tis.get((upstream, -1))
        if ti is None and upstream in paired:
            if map_index < 0:
                continue
            ti = tis.get((upstream, map_index))
        if ti is not None:  # one instance: the common case, kept cheap
            state = ti.state
            total += 1
            if state is State.SUCCESS:
                success += 1
            elif state is State.SKIPPED:
                skipped += 1
            elif state is State.FAILED:
                failed += 1
            elif state is State.UPSTREAM_FAILED:
                upstream_failed += 1
            if upstream in setup_ids:
                setups += 1
                setup_success += state is State.SUCCESS
                setup_skipped += state is State.SKIPPED
            continue
        tally = expanded[upstream].tally
        size = expanded[upstream].count - tally.get(State.REMOVED, 0)
        total += size
        success += tally.get(State.SUCCESS, 0)
        skipped += tally.get(State.SKIPPED, 0)
        failed += tally.get(State.FAILED, 0)
        upstream_failed += tally.get(State.UPSTREAM_FAILED, 0)
        if upstream in setup_ids:
            setups += size
            setup_success += tally.get(State.SUCCESS, 0)
            setup_skipped += tally.get(State.SKIPPED, 0)
    return UpstreamCounts(
        total=total,
        success=success,
        skipped=skipped,
        failed=failed,
        upstream_failed=upstream_failed,
        setups=setups,
        setup_success=setup_success,
        setup_skipped=setup_skipped,
    )
