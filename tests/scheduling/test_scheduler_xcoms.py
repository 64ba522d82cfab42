"""XComs through the scheduler: tagged JSON keeps types; other objects fail the task clearly."""

from __future__ import annotations

import pytest
from harness import Home

from taskkit import serde
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
    serde.verify_xcom(stored.value, stored.encoding, home.key)  # signed with the home's key
