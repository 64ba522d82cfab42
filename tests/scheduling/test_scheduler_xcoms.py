"""XComs through the scheduler: tagged JSON keeps types; other objects fail the task clearly."""

from __future__ import annotations

import pytest
from harness import Home

from taskkit import xcom_codec
from taskkit.states import RunState, State

pytestmark = pytest.mark.slow

TYPED = """
import decimal

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def typed():
    @task
    def make(ti=None):
        note(ti, time.time())
        return {"when": dt.date(2026, 1, 2), "pair": (1, 2), "tags": {"b", "a"},
                "cost": decimal.Decimal("1.10"), 3: b"raw"}

    @task
    def check(value, ti=None):
        note(ti, time.time())
        assert value["when"] == dt.date(2026, 1, 2), value
        assert value["pair"] == (1, 2) and value["tags"] == {"a", "b"}, value
        assert value["cost"] == decimal.Decimal("1.10") and value[3] == b"raw", value
        return "checked"

    check(make())

typed()
"""

OPAQUE = """
import fractions

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def opaque():
    @task
    def make(ti=None):
        note(ti, time.time())
        return fractions.Fraction(1, 3)

    @task
    def use(value, ti=None):
        note(ti, time.time())
        return str(value)

    use(make())

opaque()
"""


def test_tagged_types_reach_the_next_task_intact(home: Home) -> None:
    """Dates, tuples, sets, Decimals, bytes and int keys arrive as they were returned, stored
    as JSON that is not a pickle."""
    home.write_dag("typed", TYPED)
    home.sync()
    run = home.trigger("typed")
    home.run_scheduler()
    assert home.run_state("typed", run.run_id) is RunState.SUCCESS
    stored = home.xcom("typed", run.run_id, "make")
    assert stored is not None and stored.encoding == "json"


def test_an_object_json_cannot_hold_fails_the_task_naming_type_and_setting(home: Home) -> None:
    """Returning an object JSON cannot hold (a Fraction) fails that task, naming the type and
    core.enable_xcom_pickling."""
    home.write_dag("opaque", OPAQUE)
    home.sync()
    run = home.trigger("opaque")
    home.run_scheduler()
    tis = home.tis("opaque", run.run_id)
    assert home.run_state("opaque", run.run_id) is RunState.FAILED
    assert tis["make"].state is State.FAILED
    assert tis["make"].error is not None
    assert (
        "fractions.Fraction" in tis["make"].error
        and "core.enable_xcom_pickling" in tis["make"].error
    )
    assert tis["use"].state is State.UPSTREAM_FAILED


def test_with_pickling_enabled_the_object_is_stored_signed(home: Home) -> None:
    """With core.enable_xcom_pickling the object is pickled, signed, and reaches the next task."""
    home.write_dag("opaque", OPAQUE)
    home.sync()
    run = home.trigger("opaque")
    home.run_scheduler(core_enable_xcom_pickling=True)
    assert home.run_state("opaque", run.run_id) is RunState.SUCCESS
    stored = home.xcom("opaque", run.run_id, "make")
    assert stored is not None and stored.encoding == "pickle"
    xcom_codec.verify_xcom(stored.value, stored.encoding, home.key)  # signed with the home's key


SIDEWAYS = """
import fractions

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def sideways():
    @task(priority_weight=100)
    def first():
        return {"rows": 3}

    @task(priority_weight=90)
    def opaque():
        return fractions.Fraction(1, 3)

    @task(priority_weight=50)
    def mapped(x):
        return x * 2

    @task
    def later(ti=None):
        return {
            "first": ti.xcom_pull("first"),
            "mapped": ti.xcom_pull("mapped"),
            "one": ti.xcom_pull("mapped", map_indexes=1),
            "never": ti.xcom_pull("never_ran", default="nothing"),
        }

    @task
    def later_opaque(ti=None):
        return str(ti.xcom_pull("opaque"))

    first()
    opaque()
    mapped.expand(x=[1, 2, 3])
    later()
    later_opaque()

sideways()
"""


def test_a_try_pulls_tasks_that_are_not_upstream_from_the_metastore(home: Home) -> None:
    """xcom_pull reaches any task of the run (here ones run earlier, by priority, one at a time):
    a worker reads them from the metastore; a task that never ran gives the default; a pickled
    value it cannot verify fails the try with the fix."""
    home.write_dag("sideways", SIDEWAYS)
    home.sync()
    run = home.trigger("sideways")
    home.run_scheduler(core_parallelism=1, core_enable_xcom_pickling=True)
    tis = {
        (t.task_id, t.map_index): t for t in home.store.list_task_instances("sideways", run.run_id)
    }
    (later,) = home.store.get_task_xcoms("sideways", run.run_id, "later", "return_value")
    assert later is not None
    assert xcom_codec.decode_xcom(later.value, later.encoding, key=home.key) == {
        "first": {"rows": 3},
        "mapped": [2, 4, 6],
        "one": 4,
        "never": "nothing",
    }
    failed = tis["later_opaque", -1]
    assert failed.state is State.FAILED
    assert failed.error is not None
    assert "XCom 'return_value' of task 'opaque' is pickled" in failed.error
    assert "set 'opaque' upstream of 'later_opaque'" in failed.error
