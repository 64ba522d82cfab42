"""FileSensor: a path or glob that matches a file, or a folder with a file below it."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from taskkit import DAG, FileSensor, State
from taskkit.errors import InvalidTaskParameterError

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_the_sensor_sees_a_file_appear(tmp_path: Path) -> None:
    """A file written while the sensor pokes ends its wait."""
    landing = tmp_path / "landing"
    landing.mkdir()
    writer = threading.Timer(0.2, (landing / "orders.csv").write_text, args=("id\n",))
    with DAG("d", schedule=None, start_date=START) as dag:
        FileSensor(task_id="wait", filepath=str(landing / "*.csv"), poke_interval=0.02, timeout=30)
    writer.start()
    try:
        result = dag.test()
    finally:
        writer.join()
    assert result.task_states == {"wait": State.SUCCESS}
    assert "Found file " + str(landing / "orders.csv") in result.logs("wait")


def test_globs_folders_and_recursive(tmp_path: Path) -> None:
    """`**` reaches nested folders only with recursive=True; a folder counts once it holds a
    file anywhere below it; an empty folder does not."""
    (tmp_path / "data" / "2026" / "01").mkdir(parents=True)
    (tmp_path / "data" / "2026" / "01" / "part.parquet").write_text("x")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    waits = {"poke_interval": 0.01, "timeout": 0.05, "soft_fail": True}
    nested = f"{tmp_path}/data/**/*.parquet"
    with DAG("d", schedule=None, start_date=START) as dag:
        FileSensor(task_id="deep", filepath=nested, recursive=True, **waits)
        FileSensor(task_id="shallow", filepath=nested, **waits)
        FileSensor(task_id="folder", filepath=str(tmp_path / "data"), **waits)
        FileSensor(task_id="empty", filepath=str(tmp_path / "empty"), **waits)
        FileSensor(task_id="templated", filepath=f"{tmp_path}/data/{{{{ ds[:4] }}}}", **waits)

    result = dag.test(logical_date=START)
    assert result.task_states == {
        "deep": State.SUCCESS,
        "shallow": State.SKIPPED,  # without recursive, ** is one folder level
        "folder": State.SUCCESS,
        "empty": State.SKIPPED,
        "templated": State.SUCCESS,
    }


def test_the_path_is_joined_to_the_fs_connections_base_path(tmp_path: Path) -> None:
    """fs_conn_id names a connection whose extra `path` is the base of filepath (FSHook); an
    absolute filepath ignores it; an undefined connection fails with its name and the fix."""
    (tmp_path / "share" / "in").mkdir(parents=True)
    (tmp_path / "share" / "in" / "a.csv").write_text("x")
    waits = {"poke_interval": 0.01, "timeout": 0.05, "soft_fail": True}
    with DAG("d", schedule=None, start_date=START) as dag:
        FileSensor(task_id="relative", filepath="in/*.csv", fs_conn_id="share", **waits)
        FileSensor(task_id="elsewhere", filepath="out/*.csv", fs_conn_id="share", **waits)
        FileSensor(task_id="absolute", filepath=str(tmp_path / "share/in"), fs_conn_id="share")
        FileSensor(task_id="undefined", filepath="in/*.csv", fs_conn_id="nowhere", retries=0)

    share = {"conn_type": "fs", "extra": {"path": str(tmp_path / "share")}}
    result = dag.test(connections={"share": share})
    assert result.task_states == {
        "relative": State.SUCCESS,
        "elsewhere": State.SKIPPED,
        "absolute": State.SUCCESS,
        "undefined": State.FAILED,
    }
    assert f"Poking for file {tmp_path}/share/in/*.csv" in result.logs("relative")
    error = result.logs("undefined")
    assert "The conn_id 'nowhere' isn't defined" in error
    assert "taskkit connections add nowhere" in error


def test_an_empty_fs_conn_id_is_refused() -> None:
    """fs_conn_id must name a connection: one clear line when the DAG is defined."""
    with DAG("d", schedule=None, start_date=START), pytest.raises(InvalidTaskParameterError) as err:
        FileSensor(task_id="wait", filepath="x.csv", fs_conn_id="")
    assert "fs_conn_id must be a connection id" in str(err.value)
