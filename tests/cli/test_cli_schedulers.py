"""`taskkit schedulers list`: the schedulers of a metastore, their heartbeats and holdings."""

from __future__ import annotations

import json

from cli_harness import ETL_DAG, Cli

from taskkit.metastore import Metastore
from taskkit.states import SchedulerState


def test_list_shows_each_alive_scheduler_with_what_it_holds(cli_any_db: Cli) -> None:
    """Two registered schedulers are listed with host, pid and heartbeat; the one that claimed
    the triggered run holds it; a stopped one is only listed with --all."""
    cli_any_db.write_dag("etl.py", ETL_DAG)
    cli_any_db.ok("dags", "trigger", "etl")
    store = cli_any_db.store()
    try:
        with (
            store.registered_scheduler("host-a", 101) as first,
            store.registered_scheduler("host-b", 202) as second,
        ):
            _check_listing(cli_any_db, store, first, second)
    finally:
        store.dispose()


def _check_listing(cli: Cli, store: Metastore, first: int, second: int) -> None:
    assert store.claim_runs(first, 10) == 1
    rows = {r["id"]: r for r in json.loads(cli.ok("schedulers", "list", "-o", "json"))}
    assert set(rows) == {first, second}
    assert (rows[first]["hostname"], rows[first]["pid"], rows[first]["state"]) == (
        "host-a",
        101,
        "alive",
    )
    assert rows[first]["heartbeat_at"] is not None
    assert (rows[first]["runs"], rows[second]["runs"]) == (1, 0)
    table = cli.ok("schedulers", "list")
    assert "host-a" in table and "heartbeat_at" in table

    store.stop_scheduler(first)
    alive = json.loads(cli.ok("schedulers", "list", "-o", "json"))
    assert [r["id"] for r in alive] == [second]
    everyone = json.loads(cli.ok("schedulers", "list", "--all", "-o", "json"))
    states = {r["id"]: r["state"] for r in everyone}
    assert states == {first: SchedulerState.STOPPED.value, second: "alive"}
    [run] = store.list_runs("etl")
    assert run.scheduler_id is None  # released for the others to claim


def test_list_without_schedulers_says_why(cli_sqlite: Cli) -> None:
    """On SQLite nobody registers: the list explains that the one scheduler holds a lease."""
    assert "lease" in cli_sqlite.ok("schedulers", "list")
