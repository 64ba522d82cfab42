"""`macros` as Airflow's templates know them: ds_add, ds_format and the standard modules."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

from taskkit.authoring import macros


def test_ds_add_moves_a_date_string_by_days() -> None:
    """ds_add adds (or with a negative number subtracts) days from a YYYY-MM-DD string."""
    assert macros.ds_add("2026-02-27", 3) == "2026-03-02"
    assert macros.ds_add("2026-01-06", -5) == "2026-01-01"
    assert macros.ds_add("2026-01-06", 0) == "2026-01-06"


def test_ds_format_reformats_a_date_string() -> None:
    """ds_format parses with one strftime format and writes with another."""
    assert macros.ds_format("1/5/2026", "%m/%d/%Y", "%Y-%m-%d") == "2026-01-05"


def test_standard_modules_are_there_and_load_on_use() -> None:
    """datetime, timedelta, json, time, uuid, random and dateutil are reachable as in Airflow."""
    assert macros.datetime is dt.datetime
    assert macros.timedelta is dt.timedelta
    assert macros.json is json
    assert macros.time is time
    assert macros.uuid is uuid
    assert 0 <= macros.random() < 1
    assert macros.dateutil.relativedelta.relativedelta(months=1)
    assert {"ds_add", "random", "dateutil"} <= set(dir(macros))
