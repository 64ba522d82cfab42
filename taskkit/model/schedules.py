"""Schedule presets: a fact both DAG validation (authoring) and timetables (scheduling) read."""

from __future__ import annotations

#: "As often as possible, one run at a time" (Airflow's ContinuousTimetable).
CONTINUOUS = "@continuous"

#: Airflow's presets and the cron expressions they stand for ("@once" and "@continuous" have
#: none).
PRESETS: dict[str, str | None] = {
    "@once": None,
    CONTINUOUS: None,
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
