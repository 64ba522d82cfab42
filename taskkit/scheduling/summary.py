"""What a scheduler session did, printed when it exits."""

from __future__ import annotations

from collections import Counter

import attrs

from taskkit.states import RunState, State


@attrs.frozen
class RunSummary:
    """One run that finished while the scheduler ran."""

    dag_id: str
    run_id: str
    state: RunState
    task_states: Counter[State]
    duration_s: float | None


@attrs.define
class SchedulerSummary:
    """Runs finished, tries run and how the session ended."""

    runs: list[RunSummary] = attrs.Factory(list)
    tries: int = 0
    failed_tries: int = 0
    duration_s: float = 0.0
    stopped_by: str = "idle"
    exit_code: int = 0

    def render(self) -> str:
        """A short human-readable report, one line per finished run."""
        states = Counter(run.state for run in self.runs)
        head = (
            f"taskkit scheduler ({self.stopped_by}): {len(self.runs)} run(s) finished "
            f"[{', '.join(f'{n} {s}' for s, n in sorted(states.items())) or 'none'}], "
            f"{self.tries} tries ({self.failed_tries} failed) in {self.duration_s:.2f}s"
        )
        lines = [head]
        for run in self.runs:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(run.task_states.items()))
            took = f" in {run.duration_s:.2f}s" if run.duration_s is not None else ""
            lines.append(f"  {run.dag_id:<28} {run.run_id:<40} {run.state:<8} {counts}{took}")
        return "\n".join(lines)
