"""Run selection: which queued runs start, oldest first, within each DAG's max_active_runs."""

from __future__ import annotations

from taskkit.scheduling.run_selection import RunCandidate, select_runs


def test_select_runs_keeps_each_dag_within_max_active_runs() -> None:
    """Queued runs start oldest first while their DAG is under max_active_runs."""
    queued = [RunCandidate("d", "r3", 3), RunCandidate("d", "r1", 1), RunCandidate("e", "r2", 2)]
    chosen = select_runs(queued, {"d": 0}, {"d": 1, "e": None})
    assert [r.run_id for r in chosen] == ["r1", "r2"]
