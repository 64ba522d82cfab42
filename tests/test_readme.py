"""The README's tour is real code: it runs, and its test passes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_tour_runs_and_its_test_passes() -> None:
    """The Python block in the README defines a DAG whose own test() assertions hold."""
    (code,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace: dict[str, Any] = {"__name__": "readme_tour"}
    exec(compile(code, str(README), "exec"), namespace)  # our own README, not user input
    namespace["test_etl"]()
