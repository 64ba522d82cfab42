"""Run ids, ids, pool names and slot counts follow Airflow's rules wherever they enter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from taskkit import DAG, EmptyOperator, validation
from taskkit.errors import DagDefinitionError, InvalidNameError, PoolError
from taskkit.metastore import Metastore
from taskkit.states import RunType


@pytest.mark.parametrize(
    "good", ["manual__2026-01-01T00:00:00+00:00", "a", "x.y~z:1+2-3_", "r" * 250]
)
def test_airflow_like_run_ids_are_accepted(good: str) -> None:
    """Run ids made of letters, digits and _ . ~ : + - up to 250 characters pass."""
    assert validation.run_id(good) == good


@pytest.mark.parametrize("bad", ["", "../../escaped", "a b", "a\nb", "é", "r" * 251, "a/b"])
def test_other_run_ids_are_refused_in_one_line(bad: str) -> None:
    """Anything else is refused with one line naming the rule (long values are cut)."""
    with pytest.raises(InvalidNameError) as caught:
        validation.run_id(bad)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200


def test_the_metastore_refuses_bad_names_itself(metastore: Metastore) -> None:
    """Code that bypasses the CLI still cannot store a bad run id, pool name or slot count."""
    with pytest.raises(InvalidNameError):
        metastore.create_run(
            "d",
            "../escape",
            dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            run_type=RunType.MANUAL,
            dag_version_id=1,
            tasks=[],
        )
    with pytest.raises(InvalidNameError):
        metastore.set_pool("bad name!", 1)
    with pytest.raises(PoolError, match="from 0 to"):
        metastore.set_pool("p", 2**63)
    with pytest.raises(PoolError, match="from 0 to"):
        metastore.set_pool("p", 2**31)
    metastore.set_pool("p", 2**31 - 1)
    assert metastore.get_pool_slots()["p"] == 2**31 - 1


def test_dag_code_cannot_name_a_bad_pool_or_too_many_slots() -> None:
    """A task naming an invalid pool, or more pool_slots than a pool can hold, fails at once."""
    with DAG("d", schedule=None), pytest.raises(DagDefinitionError, match="Pool name"):
        EmptyOperator(task_id="t", pool="bad name!")
    with DAG("d2", schedule=None), pytest.raises(DagDefinitionError, match="64 bits"):
        EmptyOperator(task_id="t", pool_slots=2**64)
    with DAG("d3", schedule=None), pytest.raises(DagDefinitionError, match="more than any pool"):
        EmptyOperator(task_id="t", pool_slots=2**31)


@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        (validation.pool_name, "p" * 251),
        (validation.pool_name, "semi;colon"),
        (validation.username, "u" * 65),
        (validation.username, "two words"),
        (validation.username, ""),
    ],
)
def test_pool_names_and_usernames_are_refused_in_one_line(rule: Any, bad: str) -> None:
    """Too long or odd pool names and usernames are refused with the limit and the characters."""
    with pytest.raises(InvalidNameError) as caught:
        rule(bad)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    assert "letters, digits" in message or "empty" in message


def test_usernames_may_hold_an_at_sign() -> None:
    """A username like an e-mail address's local part with a domain passes."""
    assert validation.username("ada.l@example") == "ada.l@example"
