"""The scheduler's closing summary: aligned runs, their failures, retries and start order."""

from __future__ import annotations

from collections import Counter

from taskkit.scheduling.summary import RunSummary, SchedulerSummary
from taskkit.states import RunState, State


def test_summary_lists_failures_retries_order_and_import_errors_aligned() -> None:
    """Each run is one aligned line however long its run id, followed by what failed, what was
    retried and the start order; import errors are counted with the command that lists them."""
    summary = SchedulerSummary(
        runs=[
            RunSummary(
                "etl",
                "manual__" + "x" * 60,
                RunState.FAILED,
                Counter({State.SUCCESS: 1, State.FAILED: 1}),
                1.5,
                failed=("load",),
                retried=("load",),
                order=("extract", "load"),
            ),
            RunSummary(
                "a_much_longer_dag_id",
                "r1",
                RunState.SUCCESS,
                Counter({State.SUCCESS: 1}),
                0.2,
                order=("t",),
            ),
        ],
        tries=4,
        failed_tries=2,
        import_errors=3,
    )
    lines = summary.render().splitlines()
    assert "3 DAG file(s) failed to import: run `taskkit dags list-import-errors`" in lines[1]
    run_lines = [line for line in lines if line.startswith("  ") and not line.startswith("    ")]
    assert len(run_lines) == 3  # the import errors line and one per run
    first, second = run_lines[1], run_lines[2]
    assert first.index("failed") == second.index("success")  # the state column lines up
    assert "failed:  load" in summary.render() and "retried: load" in summary.render()
    assert "order:   extract > load" in summary.render()


def test_a_long_start_order_keeps_its_first_tasks_and_counts_the_rest() -> None:
    """A run keeps only the start order it shows (a scheduler running for days would otherwise
    hold every task id it started) and says how many more tasks started."""
    first = tuple(f"t{i}" for i in range(12))
    summary = SchedulerSummary(
        runs=[RunSummary("big", "r", RunState.SUCCESS, Counter(), None, order=first, started=30)]
    )
    assert f"order:   {' > '.join(first)} > ... (18 more)" in summary.render()
