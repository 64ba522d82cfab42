"""The ready queue keeps scheduled candidates in the order selection takes them."""

from __future__ import annotations

from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.ready_queue import ReadyQueue
from taskkit.scheduling.selection import Candidate


def candidate(task_id: str, priority: int, run_order: int = 0) -> Candidate:
    return Candidate(
        key=TaskInstanceKey("dag", f"run{run_order}", task_id),
        priority=priority,
        pool="default_pool",
        run_order=run_order,
    )


def ids(queue: ReadyQueue) -> list[str]:
    return [c.key.task_id for c in queue.ordered()]


def test_candidates_come_out_by_priority_then_older_run_then_task_id() -> None:
    """Whatever the insertion order, the highest priority is first, ties by run then id."""
    queue = ReadyQueue()
    for c in [candidate("b", 1), candidate("a", 1), candidate("z", 9), candidate("c", 1, -1)]:
        queue.add(c)
    assert ids(queue) == ["z", "c", "a", "b"]


def test_adding_the_same_task_instance_twice_keeps_one() -> None:
    """A task instance is queued at most once."""
    queue = ReadyQueue()
    queue.add(candidate("a", 1))
    queue.add(candidate("a", 1))
    assert len(queue) == 1


def test_discarding_a_prefix_or_the_middle_keeps_the_rest_in_order() -> None:
    """Started candidates leave the queue whether they were at the front or not."""
    queue = ReadyQueue()
    for i, task_id in enumerate("abcdef"):
        queue.add(candidate(task_id, 10 - i))
    queue.discard([TaskInstanceKey("dag", "run0", t) for t in "ab"])
    assert ids(queue) == ["c", "d", "e", "f"]
    queue.discard([TaskInstanceKey("dag", "run0", t) for t in "ce"])
    assert ids(queue) == ["d", "f"]
    assert TaskInstanceKey("dag", "run0", "c") not in queue
    queue.add(candidate("c", 8))  # a retry comes back
    assert ids(queue) == ["c", "d", "f"]


def test_it_counts_each_dags_candidates_as_they_come_and_go() -> None:
    """The per-DAG counts selection uses to stop early follow adds, repeats and discards."""
    queue = ReadyQueue()
    other = Candidate(key=TaskInstanceKey("other", "run0", "x"), priority=1, pool="default_pool")
    for c in [candidate("a", 1), candidate("b", 2), candidate("a", 1), other]:
        queue.add(c)
    assert queue.per_dag() == {"dag": 2, "other": 1}
    queue.discard([other.key, candidate("a", 1).key, TaskInstanceKey("dag", "run0", "gone")])
    assert queue.per_dag() == {"dag": 1}
