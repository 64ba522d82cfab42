"""Candidates that note how far a selection round read them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from taskkit.scheduling.selection import Candidate


class Watched(list[Candidate]):
    """A list of candidates whose iteration appends each task id read to `seen`."""

    def __init__(self, candidates: Iterable[Candidate], seen: list[str]) -> None:
        super().__init__(candidates)
        self.seen = seen

    def __iter__(self) -> Iterator[Candidate]:
        for candidate in super().__iter__():
            self.seen.append(candidate.key.task_id)
            yield candidate
