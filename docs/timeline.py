"""Draw docs/timeline.svg: data intervals, when runs are created, and catchup on and off.

  .venv/bin/python docs/timeline.py      # rewrites docs/timeline.svg

The picture is computed with taskkit's own timetable, so it shows what the
scheduler does: a daily DAG whose start_date is Jan 1 06:00, looked at on
Jan 6 at 14:00, after a week of not running.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.sax.saxutils import escape

from taskkit.scheduling.timetable import PlannedRun, Timetable

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 1, 6, tzinfo=UTC)
NOW = dt.datetime(2026, 1, 6, 14, tzinfo=UTC)
FIRST_DAY = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 7
LEFT, DAY_W, TOP = 150, 110, 40
WIDTH = LEFT + DAYS * DAY_W + 30


def x(moment: dt.datetime) -> float:
    """Horizontal position of a moment."""
    return LEFT + (moment - FIRST_DAY).total_seconds() / 86400 * DAY_W


def text(px: float, py: float, label: str, *, size: int = 12, anchor: str = "start") -> str:
    return (
        f'<text x="{px:.1f}" y="{py:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-family="sans-serif">{escape(label)}</text>'
    )


def interval_row(runs: list[PlannedRun], y: float, label: str, colour: str) -> list[str]:
    """One row of data intervals as bars, each with an arrow at the moment its run is created."""
    parts = [text(10, y + 14, label)]
    for run in runs:
        x0, x1 = x(run.logical_date), x(run.data_interval_end)
        parts.append(
            f'<rect x="{x0 + 2:.1f}" y="{y}" width="{x1 - x0 - 4:.1f}" height="20" rx="4" '
            f'fill="{colour}" stroke="#333"/>'
        )
        parts.append(
            text(
                (x0 + x1) / 2,
                y + 14,
                run.logical_date.strftime("ds %m-%d"),
                size=10,
                anchor="middle",
            )
        )
        parts.append(
            f'<path d="M{x1:.1f},{y + 22} l-4,8 h8 z" fill="#333"/>'  # created at interval end
        )
    return parts


def draw() -> str:
    """The whole SVG document."""
    catchup = Timetable("@daily", START, catchup=True)
    no_catchup = Timetable("@daily", START, catchup=False)
    every, last = [], None
    while (run := catchup.due_run(last, NOW)) is not None:
        every.append(run)
        last = run.logical_date
    latest = no_catchup.due_run(None, NOW)
    upcoming = catchup.next_run(last, NOW)
    assert latest is not None and upcoming is not None
    height = TOP + 230
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        text(10, 22, "A @daily DAG, start_date Jan 1 06:00 UTC, seen on Jan 6 14:00", size=14),
    ]
    axis = TOP + 20
    parts.append(
        f'<line x1="{LEFT}" y1="{axis}" x2="{x(FIRST_DAY + dt.timedelta(DAYS))}" '
        f'y2="{axis}" stroke="#333"/>'
    )
    for day in range(DAYS + 1):
        at = FIRST_DAY + dt.timedelta(days=day)
        parts.append(
            f'<line x1="{x(at)}" y1="{axis - 5}" x2="{x(at)}" y2="{axis + 5}" stroke="#333"/>'
        )
        parts.append(text(x(at), axis - 9, at.strftime("%b %d"), size=11, anchor="middle"))
    for moment, label, colour in [(START, "start_date", "#2a7"), (NOW, "now", "#c33")]:
        parts.append(
            f'<line x1="{x(moment):.1f}" y1="{axis}" x2="{x(moment):.1f}" '
            f'y2="{height - 30}" stroke="{colour}" stroke-dasharray="4 3"/>'
        )
        parts.append(text(x(moment) + 4, height - 34, label, size=11))
    parts += interval_row(every, TOP + 45, "catchup=True", "#9cf")
    parts += interval_row([latest], TOP + 95, "catchup=False", "#fc9")
    parts += interval_row([upcoming], TOP + 145, "next run (both)", "#eee")
    parts.append(
        text(
            10,
            height - 8,
            "Each bar is one run's data interval [start, end); ds is its "
            "start (the logical date). A run is created when its interval ends (▲).",
            size=11,
        )
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    target = Path(__file__).with_name("timeline.svg")
    target.write_text(draw(), encoding="utf-8")
    print(f"wrote {target}")
