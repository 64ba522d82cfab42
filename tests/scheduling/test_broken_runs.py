"""A DAG whose stored payload cannot be loaded fails its own runs; every other DAG runs on."""

from __future__ import annotations

import pytest
from harness import Home
from sqlalchemy import update

from taskkit.metastore.tables import DagVersionRow
from taskkit.states import RunState, State

pytestmark = pytest.mark.slow

DAGS = """
@dag(schedule={schedule}, start_date=dt.datetime(2026, 1, 1), catchup=False)
def {name}():
    @task
    def first(ti=None):
        note(ti, time.time())
        return 1

    @task
    def second(x, ti=None):
        note(ti, time.time())

    second(first())

{name}()
"""


def _flip_a_byte(home: Home, dag_id: str) -> None:
    version = home.store.get_current_dag_version(dag_id)
    altered = bytearray(version.payload)
    altered[len(altered) // 2] ^= 0xFF
    with home.store.engine.begin() as connection:
        connection.execute(
            update(DagVersionRow)
            .where(DagVersionRow.id == version.id)
            .values(payload=bytes(altered))
        )


def test_a_flipped_byte_in_one_payload_fails_only_that_dags_runs(home: Home) -> None:
    """One DAG's altered payload fails its run (each task names the reason) and creates no
    scheduled runs, while another DAG's run, and its scheduled runs, go on."""
    home.write_dag("bad", DAGS.format(name="bad", schedule='"@daily"'))
    home.write_dag("good", DAGS.format(name="good", schedule='"@daily"'))
    home.sync()
    bad_run = home.trigger("bad")
    good_run = home.trigger("good")
    _flip_a_byte(home, "bad")

    summary = home.run_scheduler()

    assert home.run_state("good", good_run.run_id) is RunState.SUCCESS
    assert home.run_state("bad", bad_run.run_id) is RunState.FAILED
    for ti in home.tis("bad", bad_run.run_id).values():
        assert ti.state is State.FAILED
        assert ti.error is not None and "cannot be loaded" in ti.error
        assert "HMAC" in ti.error
    assert {t.dag for t in home.tries()} == {"good"}
    scheduled = [r for r in home.store.list_runs("good") if r.run_id != good_run.run_id]
    assert scheduled and all(r.state is RunState.SUCCESS for r in scheduled)
    assert [r.run_id for r in home.store.list_runs("bad")] == [bad_run.run_id]
    assert RunState.FAILED in {r.state for r in summary.runs}


class _Plant:
    """A pickle that, if ever loaded, creates the file it names."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_a_forged_pickled_xcom_row_fails_its_run_and_runs_nothing(home: Home) -> None:
    """A pickle written into the XCom table without the key is never loaded, by the scheduler
    or a try: the run that would read it fails with the reason, and other runs go on."""
    import pickle

    from taskkit.metastore.records import TIChange, XComWrite

    home.write_dag("bad", DAGS.format(name="bad", schedule="None"))
    home.sync()
    bad_run = home.trigger("bad")
    good_run = home.trigger("bad", "good_run")
    planted = home.path / "planted"
    first = home.tis("bad", bad_run.run_id)["first"].key
    planted_value = b"\0" * 32 + pickle.dumps(_Plant(str(planted)))
    home.store.transition_task_instances(
        [TIChange(first, set(State), state=State.SUCCESS, try_number=1)],  # type: ignore[arg-type]
        [XComWrite(first, "return_value", planted_value, "pickle")],
    )

    home.run_scheduler()

    assert not planted.exists()
    assert home.run_state("bad", good_run.run_id) is RunState.SUCCESS
    assert home.run_state("bad", bad_run.run_id) is RunState.FAILED
    second = home.tis("bad", bad_run.run_id)["second"]
    assert second.state is State.FAILED
    assert second.error is not None and "HMAC" in second.error
