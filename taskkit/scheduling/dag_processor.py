"""Find the DAGs in the DAGs folder, serialize them, and store versions and import errors.

DAG files are user code: one may hang, call `sys.exit`, `os._exit` or crash
the interpreter. So the folder is parsed in ONE child process
(`python -m taskkit.scheduling.dag_processor`) that reports each file as it
starts and finishes it. The parent enforces a per-file timeout; when the
child hangs or dies, the file it was working on gets the import error and a
fresh child carries on with the files after it, so one bad file never costs
the others their DAGs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

import attrs

from taskkit import serde
from taskkit.errors import DuplicateDagIdError
from taskkit.model.assets import (
    Asset,
    AssetAlias,
    AssetRef,
    BaseAsset,
    asset_condition,
    describe_condition,
)
from taskkit.model.timetables import Schedule
from taskkit.scheduling.dag_import import (
    FileImportError,
    absolute,
    import_dag_file,
    list_dag_files,
)
from taskkit.scheduling.timetable import Timetable

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG
    from taskkit.config import Settings
    from taskkit.metastore import Metastore

_STARTUP_GRACE_S = 30.0  # interpreter start-up and `import taskkit` in the child


@attrs.frozen
class ParsedDag:
    """One DAG found in a file, serialized (its file's module by value), with its metadata."""

    dag_id: str
    fileloc: str
    payload: bytes = attrs.field(repr=False)
    #: The pickled DagSpec alone (serde.dumps_spec): what the scheduler reads.
    spec: bytes = attrs.field(repr=False)
    content_hash: str
    schedule: str | None
    max_active_runs: int | None
    max_active_tasks: int | None
    description: str | None
    tags: tuple[str, ...]
    #: Its schedule, start, end and catchup, so the parent can compute the next run.
    timetable: Timetable | None = None
    #: Airflow arguments it uses that taskkit does not implement (they change nothing).
    warnings: tuple[str, ...] = ()
    #: The assets its schedule names, and those its tasks' outlets update.
    scheduled_on: tuple[Asset, ...] = ()
    scheduled_on_aliases: tuple[AssetAlias, ...] = ()
    #: Asset.ref(...)s its schedule names: resolved against known assets when events come.
    scheduled_on_refs: tuple[AssetRef, ...] = ()
    produces: tuple[Asset, ...] = ()


@attrs.frozen
class ParsedFile:
    """The outcome of importing one file: its DAGs, or the error that stopped it."""

    path: str
    dags: tuple[ParsedDag, ...] = ()
    error: FileImportError | None = None
    duration_s: float = 0.0


@attrs.frozen
class FolderParse:
    """Every .py file found in the folder, the DAGs they define and the files that failed.

    Duplicate dag_ids are already resolved: the first file (in path order)
    keeps the DAG, and the others get an import error naming both files.
    """

    folder: str
    files: tuple[str, ...]
    dags: tuple[ParsedDag, ...]
    errors: tuple[FileImportError, ...]
    duration_s: float

    def find(self, dag_id: str) -> ParsedDag | None:
        """The DAG with this id, or None."""
        return next((d for d in self.dags if d.dag_id == dag_id), None)


@attrs.frozen
class SyncReport:
    """What `sync_dags_folder` did: DAGs saved, new versions, import errors, deactivations."""

    folder: str
    files: int
    saved: tuple[str, ...]
    new_versions: tuple[str, ...]
    errors: tuple[FileImportError, ...]
    deactivated: tuple[str, ...]
    duration_s: float


def parse_file(path: str | os.PathLike[str], folder: str | None = None) -> ParsedFile:
    """Import a DAG file in this process and serialize each DAG it defines; never raises.

    The file's module, and every module imported from under `folder` (helper
    modules beside the DAG files), are pickled by value: workers need nothing
    but the payload, not the DAGs folder.
    """
    started = time.perf_counter()
    imported = import_dag_file(path)
    if imported.error is not None:
        return ParsedFile(imported.path, (), imported.error, time.perf_counter() - started)
    by_value = [imported.module_name, *(_modules_under(folder) if folder else ())]
    parsed = []
    try:
        for dag in imported.dags:
            payload = serde.dumps_dag(dag, by_value)
            spec = serde.dumps_spec(dag.spec, by_value)
            parsed.append(_parsed_dag(dag, imported.path, payload, spec))
    except Exception as exc:  # an unpicklable object in the DAG (a lock, a connection...)
        error = FileImportError(
            imported.path, None, f"Cannot serialize the DAG: {type(exc).__name__}: {exc}"
        )
        return ParsedFile(imported.path, (), error, time.perf_counter() - started)
    return ParsedFile(imported.path, tuple(parsed), None, time.perf_counter() - started)


def _parsed_dag(dag: DAG, fileloc: str, payload: bytes, spec: bytes) -> ParsedDag:
    return ParsedDag(
        dag_id=dag.dag_id,
        fileloc=fileloc,
        payload=payload,
        spec=spec,
        content_hash=serde.content_hash(payload),
        schedule=describe_schedule(dag.schedule),
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        description=dag.description,
        tags=tuple(dag.tags),
        timetable=Timetable.of(dag),
        warnings=tuple(dag.warnings),
        scheduled_on=_scheduled_on(dag.schedule),
        scheduled_on_aliases=_aliases_of(dag.schedule),
        scheduled_on_refs=_refs_of(dag.schedule),
        produces=tuple(
            a for t in dag.task_dict.values() for a in t.outlets if isinstance(a, Asset)
        ),
    )


def _scheduled_on(schedule: Schedule) -> tuple[Asset, ...]:
    condition = asset_condition(schedule)
    return () if condition is None else tuple(condition.iter_assets())


def _aliases_of(schedule: Schedule) -> tuple[AssetAlias, ...]:
    condition = asset_condition(schedule)
    return () if condition is None else tuple(condition.iter_aliases())


def _refs_of(schedule: Schedule) -> tuple[AssetRef, ...]:
    condition = asset_condition(schedule)
    return () if condition is None else tuple(condition.iter_refs())


def describe_schedule(schedule: Schedule) -> str | None:
    """The schedule as text for the metastore and `dags list` (preset, cron, delta, timetable)."""
    if schedule is None or isinstance(schedule, str):
        return schedule
    if isinstance(schedule, dt.timedelta):
        return f"every {schedule}"
    if isinstance(schedule, BaseAsset):
        return f"assets {describe_condition(schedule)}"
    return f"{type(schedule).__name__}({schedule.summary})"


# --- parsing a folder in a child process ----------------------------------------------------


def parse_folder(
    folder: str | os.PathLike[str], timeout: float = 30.0, processes: int = 2
) -> FolderParse:
    """Parse every DAG file in `folder` in `processes` child processes, `timeout` s per file.

    Files are handed out one at a time, so a file that hangs holds up only
    its own child: the others go on with the rest. A file that hangs past
    `timeout`, or kills its child, gets an import error and that child is
    replaced.
    """
    started = time.perf_counter()
    files = list_dag_files(folder)
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for file in files:
        todo.put(file)
    results: dict[str, ParsedFile] = {}
    workers = [
        threading.Thread(target=_parse_files, args=(absolute(folder), todo, timeout, results))
        for _ in range(max(1, min(processes, len(files))))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ordered = [results[f] for f in files]
    dags, errors = _resolve_duplicates(ordered)
    return FolderParse(
        absolute(folder),
        tuple(files),
        tuple(dags),
        tuple(errors),
        time.perf_counter() - started,
    )


def _modules_under(folder: str) -> list[str]:
    """Names of imported modules whose file lies in `folder` (a DAG file's helpers)."""
    prefix = folder.rstrip(os.sep) + os.sep
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if (path := getattr(module, "__file__", None)) and absolute(path).startswith(prefix)
    )


def _resolve_duplicates(
    parsed: Sequence[ParsedFile],
) -> tuple[list[ParsedDag], list[FileImportError]]:
    """Keep each dag_id from its first file; later files defining it get an error naming both."""
    errors = {p.path: p.error for p in parsed if p.error is not None}
    owner: dict[str, str] = {}
    dags: list[ParsedDag] = []
    for result in parsed:
        for dag in result.dags:
            first = owner.setdefault(dag.dag_id, result.path)
            if first == result.path:
                dags.append(dag)
            elif result.path not in errors:
                clash = DuplicateDagIdError(dag.dag_id, first, result.path)
                errors[result.path] = FileImportError(
                    result.path, None, f"{type(clash).__name__}: {clash}"
                )
    return dags, [errors[p.path] for p in parsed if p.path in errors]


class _Child:
    """One parsing child: it is sent paths one at a time and reports each parsed file."""

    def __init__(self, folder: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskkit.scheduling.dag_processor", folder],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.messages: queue.Queue[tuple[str, object]] = queue.Queue()
        self.reader = threading.Thread(
            target=_read_messages, args=(self.process.stdout, self.messages), daemon=True
        )
        self.reader.start()
        self.fresh = True

    def parse(self, file: str, timeout: float) -> ParsedFile:
        """The file's result, or an import error if it timed out or the child died.

        A fresh child first says it is ready (interpreter and taskkit imported),
        so the file's own timeout never includes the child's start-up.
        """
        wait = timeout
        if self.fresh:
            self.fresh = False
            try:
                kind, _ = self.messages.get(timeout=_STARTUP_GRACE_S)
            except queue.Empty:
                kind = "slow start"
            if kind != "ready":
                code = self.close(kill=True)
                message = f"the parser process did not start: {_describe_exit(code)}"
                return ParsedFile(file, (), FileImportError(file, None, message))
        try:
            pickle.dump(file, self.stdin)
            self.stdin.flush()
        except OSError:
            self.messages.put(("eof", None))
        try:
            kind, body = self.messages.get(timeout=wait)
        except queue.Empty:
            self.close(kill=True)
            message = (
                f"timed out after {timeout:g}s (the limit is scheduler.parsing_timeout; "
                "a file must define its DAGs without waiting on anything)"
            )
            return ParsedFile(file, (), FileImportError(file, None, message))
        if kind == "done":
            assert isinstance(body, ParsedFile)
            return body
        code = self.close()
        message = f"crashed the parser: {_describe_exit(code)}"
        return ParsedFile(file, (), FileImportError(file, None, message))

    def close(self, *, kill: bool = False) -> int:
        """Stop the child (killing it if asked, or if it is still busy) and return its exit code."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        if kill:
            self.process.kill()
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.reader.join(timeout=5)
        return code


def _parse_files(
    folder: str, todo: queue.SimpleQueue[str], timeout: float, results: dict[str, ParsedFile]
) -> None:
    """One worker thread: take files until none are left, each parsed in its child."""
    child: _Child | None = None
    try:
        while True:
            try:
                file = todo.get_nowait()
            except queue.Empty:
                return
            if child is None:
                child = _Child(folder)
            result = child.parse(file, timeout)
            results[file] = result
            if child.process.poll() is not None:
                child = None  # it timed out or died: the next file gets a fresh child
    finally:
        if child is not None:
            child.close()


def _read_messages(stream: IO[bytes], messages: queue.Queue[tuple[str, object]]) -> None:
    try:
        while True:
            messages.put(pickle.load(stream))
    except Exception:  # EOF, or a truncated frame from a child that died mid-write
        messages.put(("eof", None))


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"the interpreter exited with code {code} (os._exit?)"


def _child_main() -> None:
    """The child: read paths on stdin one by one, report each parsed file on the real stdout."""
    folder = sys.argv[1]
    # As in Airflow, the DAGs folder is importable: DAG files may share helper modules.
    sys.path.insert(0, folder)
    # DAG files may print or read stdin: give them /dev/null and keep fds 0/1 for us.
    requests = os.fdopen(os.dup(0), "rb")
    channel = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    # What every parse needs, loaded before the first file's clock starts.
    for name in ("taskkit.serde", "taskkit.authoring.dag", "taskkit.authoring.decorators"):
        importlib.import_module(name)
    pickle.dump(("ready", None), channel)
    channel.flush()
    while True:
        try:
            file = pickle.load(requests)
        except EOFError:
            break
        result = parse_file(file, folder)
        pickle.dump(("done", result), channel)
        channel.flush()
    channel.close()


# --- storing the outcome ----------------------------------------------------------------


def sync_dags_folder(store: Metastore, settings: Settings, secret_key: bytes) -> SyncReport:
    """Parse settings.core.dags_folder and make the metastore match it.

    Each DAG is saved (a new version only when its content hash changed),
    import errors are replaced by this parse's, and DAGs whose file is gone
    are marked inactive (kept with their history). DAGs of a file that
    failed this time stay active, so a typo does not make them vanish.
    """
    folder = settings.core.dags_folder
    parse = parse_folder(
        folder, settings.scheduler.parsing_timeout, settings.scheduler.parsing_processes
    )
    latest = store.latest_scheduled_dates() if parse.dags else {}
    now = dt.datetime.now(dt.timezone.utc)
    saved: list[str] = []
    created: list[str] = []
    for dag in parse.dags:
        outcome = store.save_dag_version(
            dag.dag_id,
            dag.fileloc,
            dag.payload,
            dag.content_hash,
            serde.sign(dag.payload, secret_key),
            spec=(dag.spec, serde.sign_spec(dag.spec, secret_key)),
            schedule_desc=dag.schedule,
            max_active_runs=dag.max_active_runs,
            max_active_tasks=dag.max_active_tasks,
            description=dag.description,
            tags=dag.tags,
            paused_at_creation=settings.core.dags_are_paused_at_creation,
            next_run=_next_run(dag.timetable, latest.get(dag.dag_id), now),
        )
        store.save_asset_references(
            dag.dag_id,
            dag.scheduled_on,
            dag.produces,
            dag.scheduled_on_aliases,
            dag.scheduled_on_refs,
        )
        saved.append(dag.dag_id)
        if outcome.created:
            created.append(dag.dag_id)
    problems = {e.file: (e.line, e.message) for e in parse.errors}
    for dag in parse.dags:
        if dag.warnings and dag.fileloc not in problems:
            # Shown beside the import errors, so an ignored safety setting is not silent.
            problems[dag.fileloc] = (None, "warning: " + " ".join(dag.warnings))
    store.replace_import_errors(
        problems,
        parsed_files=parse.files,
        all_files=parse.files,
    )
    gone = store.deactivate_missing_dags(
        saved, keep_files={e.file for e in parse.errors}, within=parse.folder
    )
    return SyncReport(
        folder=str(folder),
        files=len(parse.files),
        saved=tuple(saved),
        new_versions=tuple(created),
        errors=parse.errors,
        deactivated=tuple(gone),
        duration_s=parse.duration_s,
    )


def _next_run(
    timetable: Timetable | None, last: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime] | None:
    """(logical date, run after) of the next scheduled run, for `dags list` right after a parse."""
    planned = None if timetable is None else timetable.next_run(last, now)
    return None if planned is None else (planned.logical_date, planned.run_after)


if __name__ == "__main__":
    # Run the imported module's copy, so results pickle as taskkit.scheduling.dag_processor.*
    # classes (which the parent can load), not as __main__.* ones.
    importlib.import_module("taskkit.scheduling.dag_processor")._child_main()
