"""What a scheduler session did, printed when it exits."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import attrs

from taskkit.states import RunState, State

if TYPE_CHECKING:
    from taskkit.metastore.records import RunRecord
    from taskkit.metastore.store import Metastore

#: A run's start order is shown in full up to this many tasks, then shortened.
_ORDER_SHOWN = 12


@attrs.frozen
class RunSummary:
    """One run that finished while the scheduler ran."""

    dag_id: str
    run_id: str
    state: RunState
    task_states: Counter[State]
    duration_s: float | None
    failed: tuple[str, ...] = ()
    retried: tuple[str, ...] = ()
    #: The first tasks to start, in order (up to _ORDER_SHOWN), of `started` in all.
    order: tuple[str, ...] = ()
    reason: str | None = None
    started: int = 0

    @classmethod
    def of(cls, store: Metastore, record: RunRecord, state: RunState) -> RunSummary:
        """Read the finished run's tasks back: states, failures, retries and start order.

        Only the start order's first tasks are kept (what `render` shows), so a scheduler
        that runs for days does not hold every task id it ever started.
        """
        tis = store.list_ti_outcomes(record.dag_id, record.run_id)
        took = None
        if record.started_at and record.ended_at:
            took = (record.ended_at - record.started_at).total_seconds()
        started = sorted((ti.started_at, ti.task_id) for ti in tis if ti.started_at)
        return cls(
            record.dag_id,
            record.run_id,
            state,
            Counter(ti.state for ti in tis),
            took,
            failed=tuple(ti.task_id for ti in tis if ti.state is State.FAILED),
            retried=tuple(ti.task_id for ti in tis if ti.try_number > 1),
            order=tuple(task_id for _, task_id in started[:_ORDER_SHOWN]),
            started=len(started),
        )


@attrs.define
class SchedulerSummary:
    """Runs finished, tries run and how the session ended."""

    runs: list[RunSummary] = attrs.Factory(list)
    tries: int = 0
    failed_tries: int = 0
    duration_s: float = 0.0
    stopped_by: str = "idle"
    exit_code: int = 0
    #: DAG files that failed to import at the end of the session.
    import_errors: int = 0

    def render(self) -> str:
        """A short human-readable report: one aligned line per finished run, then details."""
        states = Counter(run.state for run in self.runs)
        head = (
            f"taskkit scheduler ({self.stopped_by}): {len(self.runs)} run(s) finished "
            f"[{', '.join(f'{n} {s}' for s, n in sorted(states.items())) or 'none'}], "
            f"{self.tries} tries ({self.failed_tries} failed) in {self.duration_s:.2f}s"
        )
        lines = [head]
        if self.import_errors:
            lines.append(
                f"  {self.import_errors} DAG file(s) failed to import: "
                "run `taskkit dags list-import-errors` to see why"
            )
        dag_width = max((len(run.dag_id) for run in self.runs), default=0)
        run_width = max((len(run.run_id) for run in self.runs), default=0)
        for run in self.runs:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(run.task_states.items()))
            took = f" in {run.duration_s:.2f}s" if run.duration_s is not None else ""
            lines.append(
                f"  {run.dag_id:<{dag_width}}  {run.run_id:<{run_width}}  {run.state:<7} "
                f"{counts or 'no tasks'}{took}"
            )
            indent = " " * (4 + dag_width)
            if run.failed:
                lines.append(f"{indent}failed:  {', '.join(run.failed)}")
            if run.retried:
                lines.append(f"{indent}retried: {', '.join(run.retried)}")
            if run.order:
                shown = list(run.order[:_ORDER_SHOWN])
                if run.started > len(shown):
                    shown.append(f"... ({run.started - len(shown)} more)")
                lines.append(f"{indent}order:   {' > '.join(shown)}")
        return "\n".join(lines)
