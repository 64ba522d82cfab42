"""`taskkit tasks`: task instance states, logs, why one waits, and running one task."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from taskkit.cli import context, params
from taskkit.cli.output import emit, output_option
from taskkit.errors import InvalidInputError, NotFoundError
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import TryOutcome
from taskkit.states import OCCUPYING_STATES

if TYPE_CHECKING:
    from taskkit.metastore import Metastore
    from taskkit.model.dag import DagSpec


@click.group()
def tasks() -> None:
    """Inspect and test task instances."""


@tasks.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.argument("run_id", type=params.RUN_ID)
@output_option
def states(dag_id: str, run_id: str, output: str) -> None:
    """The state of every task instance of RUN_ID of DAG_ID."""
    config = context.settings()
    with context.open_store(config) as store:
        store.get_dag(dag_id)
        store.get_run(dag_id, run_id)
        records = store.list_task_instances(dag_id, run_id)
    rows = [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "rendered_map_index": ti.rendered_map_index,
            "state": ti.state,
            "try_number": ti.try_number,
            "max_tries": ti.max_tries,
            "pool": ti.pool,
            "pool_slots": ti.pool_slots,
            "priority_weight": ti.priority_weight,
            "started_at": ti.started_at,
            "ended_at": ti.ended_at,
            "start": _seconds(ti.started_at),
            "end": _seconds(ti.ended_at),
            "wait_reason": ti.wait_reason,
            "error": ti.error,
            "reason": _short(ti.error or ti.wait_reason),
        }
        for ti in records
    ]
    columns = [
        "task_id",
        "map_index",
        "state",
        "try_number",
        "pool",
        "pool_slots",
        "priority_weight",
        "start",
        "end",
        "reason",
    ]
    emit(rows, columns, output, f"Run {run_id!r} has no task instances.")


def _seconds(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _short(text: str | None, limit: int = 100) -> str | None:
    """A reason on one table line: its first line, cut at `limit` characters."""
    if not text:
        return None
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[: limit - 3] + "..."


@tasks.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.option(
    "--run-id", type=params.RUN_ID, required=True, help="The run whose task instances to clear."
)
@click.option("--task-regex", help="Clear only tasks whose id matches (re.search); default all.")
@click.option("--downstream", is_flag=True, help="Also clear every task downstream of those.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(dag_id: str, run_id: str, task_regex: str | None, downstream: bool, yes: bool) -> None:
    """Rerun task instances of a run: reset them so the scheduler runs each as a new try.

    They get their retries again and lose their XComs; the run goes back to
    queued. Queued or running task instances are left to finish. A cleared
    ExternalTaskMarker also clears its external task (and what follows it) in
    the other DAG's run at the marker's logical date.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services import task_instances as services
    from taskkit.services.dag_versions import DagVersions, secret_key

    config = context.settings()
    with context.open_store(config) as store:
        store.get_dag(dag_id)
        run = store.get_run(dag_id, run_id)
        versions = DagVersions(store, secret_key(config))
        spec = versions.get(run.dag_version_id).spec
        try:
            chosen = services.choose_tasks(spec, task_regex=task_regex, downstream=downstream)
        except InvalidInputError as exc:
            raise click.BadParameter(
                f"not a regular expression: {str(exc).split(': ', 1)[-1]}",
                param_hint="'--task-regex'",
            ) from None
        plan = services.plan_clear(store, versions, dag_id, run_id, chosen)
        if not yes:
            others = "".join(
                f"\n  and through ExternalTaskMarker, of run {p.run.run_id!r} of DAG "
                f"{p.run.dag_id!r}: {', '.join(p.task_ids)}"
                for p in plan[1:]
            )
            click.confirm(
                f"Clear {len(chosen)} task instance(s) of run {run_id!r}: {', '.join(chosen)}"
                f"{others}?",
                abort=True,
            )
        count = services.clear_planned(store, plan)
    click.echo(f"Cleared {count} task instance(s) of run {run_id!r} of DAG {dag_id!r}.")


@tasks.command("test")
@click.argument("dag_id", type=params.DAG_ID)
@click.argument("task_id", type=params.TASK_ID)
def test_task(dag_id: str, task_id: str) -> int:
    """Run TASK_ID of DAG_ID once in this process (no upstream values or run state).

    Variables and connections are read from (and written to) the metastore.

    A task that defers has its trigger run here, then resumes, as under
    DAG.test(). Its output goes to this terminal; exits 1 if the try failed.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    import attrs

    from taskkit.execution.runtime import decode_xcom, run_try
    from taskkit.execution.workload import Workload
    from taskkit.scheduling.engine import resumed_with
    from taskkit.triggers.running import run_inline

    config = context.settings()
    dag = context.dag_from_folder(config, dag_id)
    dag.get_task(task_id)  # an unknown task is one clear error
    now = dt.datetime.now(dt.timezone.utc)
    workload = Workload(
        key=TaskInstanceKey(dag_id, f"test__{now.isoformat()}", task_id),
        try_number=1,
        max_tries=dag.spec.tasks[task_id].max_tries,
        dag_version_id=0,
        logical_date=now,
        conf={},
        run_type="test",
        log_path="",
    )
    with context.metastore_secrets(config):
        result = run_try(dag, workload)
        while result.deferral is not None:  # run the trigger here, then resume (as DAG.test)
            deferral = result.deferral
            click.echo(f"Task {task_id} deferred to {deferral.classpath}: running it here")
            event, error = run_inline(deferral.classpath, deferral.kwargs, deferral.timeout_at)
            method, kwargs = resumed_with(deferral.next_method, deferral.next_kwargs, event, error)
            workload = attrs.evolve(workload, next_method=method, next_kwargs=kwargs)
            result = run_try(dag, workload)
    if "return_value" in result.xcoms:
        click.echo(f"Returned: {decode_xcom(result.xcoms['return_value'])!r}")
    detail = f": {result.error}" if result.error else ""
    click.echo(f"Task {task_id} {result.outcome.value} in {result.duration_s:.3f}s{detail}")
    return 1 if result.outcome is TryOutcome.FAILED else 0


@tasks.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.argument("run_id", type=params.RUN_ID)
@click.argument("task_id", type=params.TASK_ID)
@click.option("--try", "try_number", type=click.IntRange(min=1), help="Default: the latest try.")
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new lines until the try finishes."
)
@click.option(
    "--map-index", type=click.IntRange(min=-1), default=-1, help="The instance of a mapped task."
)
def logs(
    dag_id: str, run_id: str, task_id: str, *, try_number: int | None, follow: bool, map_index: int
) -> None:
    """Print the log of one try of TASK_ID in RUN_ID of DAG_ID, line by line as it is read."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.execution.tasklog import follow_log, format_line
    from taskkit.services.logs import find_log

    config = context.settings()
    path = find_log(config.home / "logs", dag_id, run_id, task_id, try_number, map_index=map_index)
    with contextlib.ExitStack() as stack:
        still_running: Callable[[], bool] = lambda: False  # noqa: E731
        if follow:
            store = stack.enter_context(context.open_store(config))
            still_running = _running_check(
                store, dag_id, run_id, task_id, int(path.stem), map_index=map_index
            )
        try:
            for raw in follow_log(path, still_running):
                click.echo(format_line(raw))
        except OSError as exc:
            raise NotFoundError(f"Cannot read the log {path}: {exc.strerror}.") from None


def _running_check(
    store: Metastore, dag_id: str, run_id: str, task_id: str, try_number: int, *, map_index: int
) -> Callable[[], bool]:
    """For --follow: whether this log's try is still queued or running, or a sensor's try
    between pokes (asked at most 1/s)."""
    last = {"at": 0.0, "answer": 1.0}

    def check() -> bool:
        now = time.monotonic()
        if now - last["at"] >= 1.0:
            last["at"] = now
            found = [
                ti
                for ti in store.list_task_instances(dag_id, run_id)
                if ti.task_id == task_id and ti.map_index == map_index
            ]
            running = bool(found) and found[0].try_number == try_number
            going_on = running and (
                found[0].state in OCCUPYING_STATES
                or found[0].first_poke_at is not None
                or found[0].next_method is not None  # deferred, or resuming
            )
            last["answer"] = float(going_on)
        return bool(last["answer"])

    return check


@tasks.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.argument("run_id", type=params.RUN_ID)
@click.argument("task_id", type=params.TASK_ID)
@click.option(
    "--map-index", type=click.IntRange(min=-1), default=None, help="The instance of a mapped task."
)
def why(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> None:
    """Say in one line why TASK_ID is not running (yet), as the scheduler sees it."""
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.services.task_instances import explain, get_task_instance

    config = context.settings()
    with context.open_store(config) as store:
        ti = get_task_instance(store, dag_id, run_id, task_id, map_index)
        run = store.get_run(dag_id, run_id)

        def spec_of_run() -> DagSpec:
            return context.load_version(config, store.get_dag_version(run.dag_version_id)).spec

        click.echo(explain(store, spec_of_run, store.get_dag(dag_id), run, ti))
