"""`taskkit schedulers list`: the schedulers sharing this metastore and what each holds."""

from __future__ import annotations

import click

from taskkit.cli import context
from taskkit.cli.output import emit, output_option


@click.group()
def schedulers() -> None:
    """Inspect the schedulers running against this metastore (several on PostgreSQL)."""


@schedulers.command("list")
@click.option("--all", "everyone", is_flag=True, help="Also schedulers that stopped or died.")
@output_option
def list_schedulers(everyone: bool, output: str) -> None:
    """Each scheduler with its host, pid, last heartbeat, state and the runs and tries it holds."""
    config = context.settings()
    with context.open_store(config) as store:
        records = store.list_schedulers(include_ended=everyone)
    rows = [
        {
            "id": r.id,
            "hostname": r.hostname,
            "pid": r.pid,
            "state": r.state,
            "started_at": r.started_at,
            "heartbeat_at": r.heartbeat_at,
            "ended_at": r.ended_at,
            "runs": r.runs,
            "queued": r.queued,
            "running": r.running,
        }
        for r in records
    ]
    emit(
        rows,
        ["id", "hostname", "pid", "state", "heartbeat_at", "runs", "queued", "running"],
        output,
        "No scheduler is registered. Schedulers register on PostgreSQL metastores only; "
        "on SQLite the one scheduler holds a lease file instead."
        if not everyone
        else "No scheduler ever registered with this metastore.",
    )
