"""`taskkit dags`: list, trigger, backfill, test, pause and show DAGs."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

from taskkit.cli import context, params
from taskkit.cli.output import emit, output_option, render_table
from taskkit.states import RunState

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import Metastore
    from taskkit.model.dag import DagSpec

no_parse_option = click.option(
    "--no-parse",
    is_flag=True,
    help="Show what the metastore knows, without parsing the DAGs folder first.",
)


def parse_conf(value: str | None) -> dict[str, Any]:
    """--conf: a JSON object, or a usage error saying what is wrong with it."""
    if value is None:
        return {}
    try:
        conf = json.loads(value)
    except RecursionError:
        raise click.BadParameter("is nested too deeply", param_hint="'--conf'") from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="'--conf'") from None
    if not isinstance(conf, dict):
        raise click.BadParameter(
            f"must be a JSON object such as '{{\"key\": 1}}', not {type(conf).__name__}",
            param_hint="'--conf'",
        )
    return conf


def parse_iso_date(value: str, name: str, zone: dt.tzinfo = dt.timezone.utc) -> dt.datetime:
    """An option's ISO 8601 date or date-time ('Z' accepted); a naive one is in `zone`."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time such as 2026-01-31T12:00:00+00:00",
            param_hint=f"'{name}'",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _sync(store: Metastore, config: Settings) -> None:
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.dags import sync_folder

    sync_folder(store, config)


@click.group()
def dags() -> None:
    """List, trigger, test, pause and show DAGs."""


@dags.command("list")
@output_option
@no_parse_option
def list_dags(output: str, no_parse: bool) -> None:
    """The active DAGs (parsing the DAGs folder first, so new files show up)."""
    config = context.settings()
    with context.open_store(config) as store:
        if not no_parse:
            _sync(store, config)
        records = store.list_dags()
        failed = len(store.list_import_errors())
    if failed:  # on stderr, so `-o json` stays one document on stdout
        click.echo(
            f"warning: {failed} DAG file(s) failed to import; "
            "run `taskkit dags list-import-errors` to see why.",
            err=True,
        )
    rows = [
        {
            "dag_id": r.dag_id,
            "paused": r.is_paused,
            "schedule": r.schedule,
            "next_run": r.next_run,
            "next_run_after": r.next_run_after,
            "fileloc": r.fileloc,
            "version_id": r.current_version_id,
            "max_active_runs": r.max_active_runs,
            "max_active_tasks": r.max_active_tasks,
            "description": r.description,
            "tags": r.tags,
        }
        for r in records
    ]
    columns = ["dag_id", "paused", "schedule", "next_run", "fileloc"]
    emit(rows, columns, output, f"No DAGs found in {config.core.dags_folder}.")


@dags.command("list-import-errors")
@output_option
@no_parse_option
def list_import_errors(output: str, no_parse: bool) -> None:
    """DAG files that failed to import, with the line and the reason."""
    config = context.settings()
    with context.open_store(config) as store:
        if not no_parse:
            _sync(store, config)
        errors = store.list_import_errors()
    rows = [
        {"file": e.fileloc, "line": e.line, "message": e.message, "created_at": e.created_at}
        for e in errors
    ]
    emit(rows, ["file", "line", "message"], output, "No import errors.")


@dags.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.option(
    "--run-id", type=params.RUN_ID, help="The run's id (default: manual__<logical date>)."
)
@click.option("--conf", help="A JSON object passed to the run as `conf`.")
@click.option("--logical-date", help="ISO 8601 date-time (naive means UTC; default: now).")
def trigger(dag_id: str, run_id: str | None, conf: str | None, logical_date: str | None) -> None:
    """Create a manual run of DAG_ID and print its run id.

    The DAGs folder is parsed first if the DAG is not in the metastore yet.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.runs import trigger as trigger_run

    run_conf = parse_conf(conf)
    when = (
        dt.datetime.now(dt.timezone.utc)
        if logical_date is None
        else parse_iso_date(logical_date, "--logical-date")
    )
    if run_id is not None and not run_id.strip():
        raise click.BadParameter("must not be empty", param_hint="'--run-id'")
    config = context.settings()
    with context.open_store(config) as store:
        run = trigger_run(store, config, dag_id, run_id=run_id, logical_date=when, conf=run_conf)
    click.echo(run.run_id)


@dags.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.option("--start-date", required=True, help="First logical date (ISO 8601), included.")
@click.option("--end-date", required=True, help="Last logical date (ISO 8601), included.")
@click.option("--reset", is_flag=True, help="Clear and rerun intervals that already have a run.")
@click.option(
    "--max-active-runs",
    type=click.IntRange(min=1),
    help="At most N of the DAG's backfill runs run at once (the DAG's own limit still applies).",
)
def backfill(
    dag_id: str, start_date: str, end_date: str, reset: bool, max_active_runs: int | None
) -> None:
    """Create backfill runs of DAG_ID for every interval starting in [START, END].

    Naive dates are in the DAG's time zone (its start_date's). Intervals that
    already have a scheduled or backfill run are skipped unless --reset,
    which clears those runs so they run again. The scheduler runs the new
    runs oldest first under the usual limits.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.scheduling.rerun import backfill as create_backfill
    from taskkit.scheduling.timetable import Timetable

    config = context.settings()
    with context.open_store(config) as store:
        version = context.current_version(store, config, dag_id)
        spec = context.load_version(config, version).spec
        zone = Timetable.of(spec).zone
        earliest = parse_iso_date(start_date, "--start-date", zone)
        latest = parse_iso_date(end_date, "--end-date", zone)
        if latest < earliest:
            raise click.BadParameter("is before --start-date", param_hint="'--end-date'")

        def spec_of(version_id: int) -> DagSpec:
            return context.load_version(config, store.get_dag_version(version_id)).spec

        report = create_backfill(
            store,
            spec,
            version.id,
            earliest,
            latest,
            reset=reset,
            max_active_runs=max_active_runs,
            spec_of=spec_of,
        )
    for when in report.created:
        click.echo(f"created backfill__{when.isoformat()}")
    for when in report.reset:
        click.echo(f"reset the run at {when.isoformat()}")
    if report.skipped:
        click.echo(
            f"skipped {len(report.skipped)} interval(s) that already have a run "
            "(use --reset to rerun them)"
        )
    if not (report.created or report.reset or report.skipped):
        click.echo(f"No intervals of DAG {dag_id!r} start between {earliest} and {latest}.")


@dags.command("test")
@click.argument("dag_id", type=params.DAG_ID)
@click.option("--conf", help="A JSON object passed to the run as `conf`.")
def test_dag(dag_id: str, conf: str | None) -> int:
    """Run DAG_ID once in this process, like DAG.test(), and print each task's state.

    Pools come from the metastore when it is initialised, and so do variables and
    connections (what tasks set stays in the test run). Exits 1 if the run failed.
    """
    run_conf = parse_conf(conf)
    config = context.settings()
    dag = context.dag_from_folder(config, dag_id)
    with context.metastore_secrets(config):
        result = dag.test(
            conf=run_conf,
            pools=context.pool_slots_for_test(config),
            parallelism=config.core.parallelism,
        )
    for task_id in result.order:
        if log := result.logs(task_id):
            click.echo(f"--- {task_id} ---\n{log.rstrip()}")
    rows = [
        {"task_id": task_id, "state": state, "tries": result.try_number(task_id)}
        for task_id, state in result.task_states.items()
    ]
    click.echo(render_table(rows, ["task_id", "state", "tries"]))
    click.echo(f"DAG run {result.run_id}: {result.state}")
    return 0 if result.state is RunState.SUCCESS else 1


@dags.command()
@click.argument("dag_id", type=params.DAG_ID)
def pause(dag_id: str) -> None:
    """Stop the scheduler from creating runs and starting tasks of DAG_ID."""
    _set_paused(dag_id, paused=True)


@dags.command()
@click.argument("dag_id", type=params.DAG_ID)
def unpause(dag_id: str) -> None:
    """Let the scheduler run DAG_ID again."""
    _set_paused(dag_id, paused=False)


def _set_paused(dag_id: str, *, paused: bool) -> None:
    config = context.settings()
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.dags import set_paused

    with context.open_store(config) as store:
        set_paused(store, dag_id, paused)
    click.echo(f"DAG {dag_id!r} is {'paused' if paused else 'unpaused'}.")


@dags.command()
@click.argument("dag_id", type=params.DAG_ID)
def show(dag_id: str) -> None:
    """The graph of DAG_ID's current version as text, tasks in topological order."""
    config = context.settings()
    with context.open_store(config) as store:
        version = context.current_version(store, config, dag_id)
    dag = context.load_version(config, version)
    click.echo(describe_graph(dag.spec, version.version_number))


def describe_graph(spec: DagSpec, version_number: int) -> str:
    """A DAG spec as text: a header, then each task with its relatives and slots."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.scheduling.dag_processor import describe_schedule

    limits = [
        f"{len(spec.tasks)} tasks",
        f"version {version_number}",
        f"schedule {describe_schedule(spec.schedule) or 'none'}",
    ]
    if spec.max_active_runs is not None:
        limits.append(f"max_active_runs {spec.max_active_runs}")
    if spec.max_active_tasks is not None:
        limits.append(f"max_active_tasks {spec.max_active_tasks}")
    lines = [f"DAG {spec.dag_id}: {', '.join(limits)}"]
    for task in spec.tasks.values():
        lines.append(
            f"  {task.task_id}  pool={task.pool} pool_slots={task.pool_slots} "
            f"priority_weight_total={task.priority_weight_total}"
        )
        lines.append(f"      upstream:   {', '.join(sorted(task.upstream)) or '-'}")
        lines.append(f"      downstream: {', '.join(sorted(task.downstream)) or '-'}")
    return "\n".join(lines)
