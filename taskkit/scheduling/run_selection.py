"""PURE: which queued DAG runs become running, oldest first, within max_active_runs.

Apart from task selection (`selection.py`) because only the scheduler needs
it: DAG.test() does not pay for loading it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import attrs


@attrs.frozen
class RunCandidate:
    """A queued DAG run that may become running."""

    dag_id: str
    run_id: str
    run_order: int  #: smaller is older


def select_runs(
    queued: Iterable[RunCandidate],
    active_per_dag: Mapping[str, int],
    max_active_runs: Mapping[str, int | None],
) -> list[RunCandidate]:
    """Queued runs that may start, oldest first, keeping each DAG within max_active_runs."""
    active = Counter(active_per_dag)
    started: list[RunCandidate] = []
    for run in sorted(queued, key=lambda r: r.run_order):
        limit = max_active_runs.get(run.dag_id)
        if limit is not None and active[run.dag_id] >= limit:
            continue
        active[run.dag_id] += 1
        started.append(run)
    return started
