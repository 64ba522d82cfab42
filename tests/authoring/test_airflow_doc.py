"""docs/airflow.md stays true: "not yet" names are not exported, and every export is listed."""

from __future__ import annotations

import re
from pathlib import Path

import taskkit

DOC = Path(__file__).parents[2] / "docs" / "airflow.md"


def _prose() -> str:
    """The document without its fenced code blocks (their backticks would pair wrongly)."""
    return re.sub(r"```.*?```", "", DOC.read_text(encoding="utf-8"), flags=re.S)


def _table_rows() -> list[tuple[str, str]]:
    rows = []
    for line in _prose().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and not set(cells[1]) <= {"-"}:
            rows.append((cells[0], cells[1]))
    return rows


def test_features_marked_not_yet_are_not_importable_from_taskkit() -> None:
    """A name in a "not yet" row must not be exported: flip the row when the feature lands."""
    for feature, status in _table_rows():
        if not status.startswith("not yet"):
            continue
        for name in re.findall(r"`([A-Za-z_]\w*)(?:\(\))?`", feature):
            assert not hasattr(taskkit, name), f"{name} is exported but docs say: {status}"


def test_every_exported_name_appears_in_the_guide() -> None:
    """Each name `from taskkit import X` offers is mentioned in docs/airflow.md's tables."""
    mentioned = {
        word
        for quoted in re.findall(r"`([^`]+)`", _prose())
        for word in re.findall(r"[A-Za-z_]\w*", quoted)
    }
    missing = [n for n in taskkit.__all__ if n != "__version__" and n not in mentioned]
    assert missing == []
