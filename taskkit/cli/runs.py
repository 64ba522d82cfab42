"""`taskkit runs`: the runs of a DAG."""

from __future__ import annotations

import click

from taskkit.cli import context, params
from taskkit.cli.output import emit, output_option


@click.group()
def runs() -> None:
    """Inspect DAG runs."""


@runs.command("list")
@click.argument("dag_id", type=params.DAG_ID)
@output_option
def list_runs(dag_id: str, output: str) -> None:
    """The runs of DAG_ID, newest first."""
    config = context.settings()
    with context.open_store(config) as store:
        store.get_dag(dag_id)  # an unknown DAG is an error, not an empty list
        records = store.list_runs(dag_id)
    rows = [
        {
            "run_id": r.run_id,
            "state": r.state,
            "logical_date": r.logical_date,
            "run_type": r.run_type,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "dag_version_id": r.dag_version_id,
            "conf": r.conf,
        }
        for r in records
    ]
    columns = ["run_id", "state", "logical_date", "run_type", "started_at", "ended_at"]
    emit(rows, columns, output, f"DAG {dag_id!r} has no runs.")
