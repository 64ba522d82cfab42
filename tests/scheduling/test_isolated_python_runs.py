"""Isolated-Python tasks under the real scheduler: source and values cross process boundaries."""

from __future__ import annotations

import json

import pytest
from harness import Home

from taskkit.states import RunState


def test_scheduler_runs_virtualenv_and_external_python_tasks(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values pass from an external-Python task to a virtualenv task and into the metastore."""
    monkeypatch.setenv("TASKKIT_HOME", str(home.path))  # where the venv cache goes
    home.write_dag(
        "isolated",
        """
        @dag(schedule=None)
        def isolated():
            @task.external_python(python="/usr/bin/python3")
            def first(n):
                import sys
                return {"n": n * 2, "python": sys.executable}

            @task.virtualenv(system_site_packages=False)
            def second(found):
                import importlib.util
                return [found["n"] + 1, importlib.util.find_spec("taskkit") is None]

            second(first(20))

        isolated()
        """,
    )
    home.sync()
    run = home.trigger("isolated")
    home.run_scheduler()
    assert home.run_state("isolated", run.run_id) is RunState.SUCCESS
    stored = {x.task_id: x for x in home.store.get_xcoms("isolated", run.run_id)}
    assert json.loads(stored["second"].value) == [41, True]
    assert list((home.path / "venvs").glob("venv-*/install_complete_marker.json"))
