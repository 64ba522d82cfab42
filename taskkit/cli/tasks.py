"""`taskkit tasks`: task instance states, logs, why one waits, and running one task."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from taskkit.cli import context, params
from taskkit.cli.output import emit, output_option
from taskkit.errors import NotFoundError, TaskNotFoundError
from taskkit.model.results import TryOutcome

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import DagRecord, Metastore, RunRecord, TaskInstanceRecord


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
    queued. Queued or running task instances are left to finish.
    """
    import re

    from taskkit.scheduling.rerun import select_tasks, tries_of

    config = context.settings()
    with context.open_store(config) as store:
        store.get_dag(dag_id)
        run = store.get_run(dag_id, run_id)
        spec = context.load_version(config, store.get_dag_version(run.dag_version_id)).spec
        try:
            chosen = select_tasks(spec, task_regex, downstream=downstream)
        except re.error as exc:
            raise click.BadParameter(
                f"not a regular expression: {exc}", param_hint="'--task-regex'"
            ) from None
        if not yes:
            click.confirm(
                f"Clear {len(chosen)} task instance(s) of run {run_id!r}: {', '.join(chosen)}?",
                abort=True,
            )
        count = store.clear_task_instances(dag_id, run_id, tries_of(spec, chosen))
    click.echo(f"Cleared {count} task instance(s) of run {run_id!r} of DAG {dag_id!r}.")


@tasks.command("test")
@click.argument("dag_id", type=params.DAG_ID)
@click.argument("task_id", type=params.TASK_ID)
def test_task(dag_id: str, task_id: str) -> int:
    """Run TASK_ID of DAG_ID once in this process (no upstream values, no metastore).

    Its output goes to this terminal; exits 1 if the try failed.
    """
    from taskkit.execution.base import Workload
    from taskkit.execution.runtime import decode_xcom, run_try
    from taskkit.model.keys import TaskInstanceKey

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
    from taskkit.execution.tasklog import follow_log, format_line

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
    """For --follow: whether this log's try is still queued or running (asked at most 1/s)."""
    from taskkit.states import OCCUPYING_STATES

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
            last["answer"] = float(running and found[0].state in OCCUPYING_STATES)
        return bool(last["answer"])

    return check


def find_log(
    folder: Path,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int | None,
    *,
    map_index: int = -1,
) -> Path:
    """The log file of a try (the latest one when `try_number` is None), or NotFoundError."""
    from taskkit.execution.tasklog import log_path

    task_dir = log_path(folder, dag_id, run_id, task_id, 1, map_index=map_index).parent
    tries = sorted(int(p.stem) for p in task_dir.glob("*.log") if p.stem.isdigit())
    instance = f"[{map_index}]" if map_index >= 0 else ""
    what = f"task {task_id!r}{instance} of run {run_id!r} of DAG {dag_id!r}"
    if not tries:
        raise NotFoundError(f"No logs for {what} in {task_dir}: it has not started a try yet.")
    if try_number is None:
        try_number = tries[-1]
    if try_number not in tries:
        raise NotFoundError(
            f"No log of try {try_number} for {what}; tries with logs: {', '.join(map(str, tries))}."
        )
    return log_path(folder, dag_id, run_id, task_id, try_number, map_index=map_index)


@tasks.command()
@click.argument("dag_id", type=params.DAG_ID)
@click.argument("run_id", type=params.RUN_ID)
@click.argument("task_id", type=params.TASK_ID)
@click.option(
    "--map-index", type=click.IntRange(min=-1), default=None, help="The instance of a mapped task."
)
def why(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> None:
    """Say in one line why TASK_ID is not running (yet), as the scheduler sees it."""
    config = context.settings()
    with context.open_store(config) as store:
        dag = store.get_dag(dag_id)
        run = store.get_run(dag_id, run_id)
        found = [
            ti
            for ti in store.list_task_instances(dag_id, run_id)
            if ti.task_id == task_id and (map_index is None or ti.map_index == map_index)
        ]
        if not found:
            raise TaskNotFoundError(f"Run {run_id!r} of DAG {dag_id!r} has no task {task_id!r}.")
        click.echo(explain(store, config, dag, run, found[0]))


def _at(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "an unknown time"


def explain(
    store: Metastore, config: Settings, dag: DagRecord, run: RunRecord, ti: TaskInstanceRecord
) -> str:
    """The one-line answer of `tasks why`."""
    from taskkit.states import FINISHED_STATES, RunState, State

    state = ti.state
    if state in FINISHED_STATES:
        reason = f": {_short(ti.error, 300)}" if ti.error and state is not State.SUCCESS else ""
        return f"finished: {state}{reason}"
    if state is State.RUNNING:
        where = f" (pid {ti.pid} on {ti.hostname})" if ti.pid else ""
        return f"running since {_at(ti.started_at)}{where}, try {ti.try_number}"
    if state is State.QUEUED:
        return f"queued since {_at(ti.queued_at)}: handed to the executor, about to start"
    if state is State.UP_FOR_RETRY:
        failed = f": {_short(ti.error)}" if ti.error else ""
        return (
            f"waiting for retry until {_at(ti.next_retry_at)} "
            f"(try {ti.try_number} of {ti.max_tries} failed{failed})"
        )
    if dag.is_paused:
        return f"DAG is paused: run `taskkit dags unpause {dag.dag_id}`"
    if state is State.SCHEDULED:
        return ti.wait_reason or "scheduled: waiting for the scheduler to queue it"
    if run.state is RunState.QUEUED:
        return "DAG run is queued (max_active_runs reached)"
    if run.state is not RunState.RUNNING:
        return f"DAG run is finished: {run.state}"
    spec = context.load_version(config, store.get_dag_version(run.dag_version_id)).spec
    unfinished = {  # a mapped task is unfinished while any of its instances is
        t.task_id
        for t in store.list_task_instances(dag.dag_id, run.run_id)
        if t.state not in FINISHED_STATES
    }
    waiting = sorted(u for u in spec.tasks[ti.task_id].upstream if u in unfinished)
    if waiting:
        return f"waiting for upstream task(s) {', '.join(waiting)}"
    return ti.wait_reason or "upstream tasks are done: waiting for the scheduler to evaluate it"
