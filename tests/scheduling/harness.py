"""An isolated taskkit installation for end-to-end scheduler tests: home, DAGs, metastore.

DAG files written through `Home.write_dag` start with a prelude whose task
functions append one JSON line per try (task, run, try, start and end times
from `time.time()`) to a record file; the tests read those lines back to
check real ordering and concurrency between worker processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from taskkit import serde
from taskkit.config import Settings, load_settings
from taskkit.metastore import Metastore, RunRecord, TaskInstanceRecord, XComRecord, init_db
from taskkit.scheduling.dag_processor import sync_dags_folder
from taskkit.scheduling.scheduler import Scheduler
from taskkit.scheduling.summary import SchedulerSummary
from taskkit.states import RunState, RunType

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

PRELUDE = '''\
import datetime as dt
import json
import os
import time

from taskkit import BashOperator, DAG, EmptyOperator, PythonOperator, dag, task

RECORD = {record!r}


def note(ti, start, end=None, **extra):
    """Append one line about this try to the record file (one write, so lines never mix)."""
    line = {{"dag": ti.dag_id, "run": ti.run_id, "task": ti.task_id, "try": ti.try_number,
             "start": start, "end": end if end is not None else time.time(), **extra}}
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\\n").encode())
    finally:
        os.close(fd)


def sleeper(ti, seconds=0.2, slots=1):
    start = time.time()
    time.sleep(seconds)
    note(ti, start, slots=slots)
'''


@attrs.frozen
class Try:
    """One recorded try of a task, as its own process saw it."""

    dag: str
    run: str
    task: str
    try_number: int
    start: float
    end: float
    slots: int = 1


def max_overlap(tries: Iterable[Try], weight: Callable[[Try], int] = lambda t: 1) -> int:
    """The largest total weight of tries running at one instant (touching ends don't overlap)."""
    edges = sorted(
        [(t.start, 1, weight(t)) for t in tries] + [(t.end, 0, -weight(t)) for t in tries]
    )
    level = peak = 0
    for _, _, delta in edges:  # at equal times, ends (0) sort before starts (1)
        level += delta
        peak = max(peak, level)
    return peak


@attrs.define
class Home:
    """A TASKKIT_HOME with a DAGs folder, an initialised metastore and a record file."""

    path: Path
    db_url: str
    executor: str
    store: Metastore
    key: bytes
    record: Path
    overrides: dict[str, object] = attrs.Factory(dict)

    @classmethod
    def create(cls, path: Path, db_url: str, executor: str = "local") -> Home:
        (path / "dags").mkdir(parents=True)
        init_db(db_url)
        return cls(
            path=path,
            db_url=db_url,
            executor=executor,
            store=Metastore.open(db_url),
            key=serde.load_secret_key(path, None),
            record=path / "record.jsonl",
        )

    def settings(self, **overrides: object) -> Settings:
        """Settings for this home; `core_parallelism=2` overrides "core.parallelism"."""
        flags: dict[str, object] = {
            "database.sql_alchemy_conn": self.db_url,
            "core.executor": self.executor,
            "scheduler.dag_dir_list_interval": 3600.0,
            **self.overrides,
        }
        flags.update({k.replace("_", ".", 1): v for k, v in overrides.items()})
        return load_settings(overrides=flags, environ={"TASKKIT_HOME": str(self.path)})

    # -- DAGs, pools, runs ---------------------------------------------------------------

    def write_dag(self, name: str, body: str) -> Path:
        """Write dags/<name>.py: the recording prelude followed by `body` (dedented)."""
        path = self.path / "dags" / f"{name}.py"
        path.write_text(
            PRELUDE.format(record=str(self.record)) + "\n\n" + textwrap.dedent(body),
            encoding="utf-8",
        )
        return path

    def sync(self) -> None:
        """Parse the DAGs folder into the metastore, failing on any import error."""
        report = sync_dags_folder(self.store, self.settings(), self.key)
        assert not report.errors, report.errors

    def pool(self, name: str, slots: int) -> None:
        self.store.set_pool(name, slots)

    def trigger(
        self,
        dag_id: str,
        run_id: str | None = None,
        *,
        conf: dict[str, Any] | None = None,
        logical_date: dt.datetime = T0,
    ) -> RunRecord:
        """Create a manual run on the DAG's current version, as `taskkit dags trigger` does."""
        version = self.store.get_current_dag_version(dag_id)
        dag: Any = serde.loads_verified_dag(version.payload, version.signature, self.key)
        return self.store.create_run(
            dag_id,
            run_id or f"manual__{uuid.uuid4().hex[:8]}",
            logical_date,
            run_type=RunType.MANUAL,
            dag_version_id=version.id,
            tasks=list(dag.spec.tasks.values()),
            conf=conf,
        )

    def run_scheduler(self, **overrides: object) -> SchedulerSummary:
        """Run a real scheduler in this process until nothing is left to do."""
        return Scheduler(self.settings(**overrides), exit_when_idle=True).run()

    # -- reading back ------------------------------------------------------------------

    def tis(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceRecord]:
        return {ti.task_id: ti for ti in self.store.list_task_instances(dag_id, run_id)}

    def started_order(self, dag_id: str, run_id: str) -> list[str]:
        """The run's task ids in the order their (last) tries started, by TI.started_at."""
        tis = self.tis(dag_id, run_id).values()
        return [ti.task_id for ti in sorted(tis, key=lambda ti: ti.started_at or ti.updated_at)]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> XComRecord | None:
        """The task's stored return value (unmapped), as the scheduler's run loader reads it."""
        found = (x for x in self.store.get_xcoms(dag_id, run_id) if x.task_id == task_id)
        return next((x for x in found if x.key == "return_value"), None)

    def run_state(self, dag_id: str, run_id: str) -> RunState:
        return self.store.get_run(dag_id, run_id).state

    def tries(self, dag: str | None = None) -> list[Try]:
        """Recorded tries, in the order they ended."""
        if not self.record.exists():
            return []
        found = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            raw = json.loads(line)
            if dag is None or raw["dag"] == dag:
                found.append(
                    Try(
                        raw["dag"],
                        raw["run"],
                        raw["task"],
                        raw["try"],
                        raw["start"],
                        raw["end"],
                        raw.get("slots", 1),
                    )
                )
        return found

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        from tasklogs import format_log

        from taskkit.execution.tasklog import log_path

        return format_log(log_path(self.path / "logs", dag_id, run_id, task_id, try_number))

    def close(self) -> None:
        self.store.dispose()


# -- a scheduler in another process ------------------------------------------------------

SCHEDULER_SCRIPT = """
import sys
from taskkit.config import load_settings
from taskkit.scheduling.scheduler import Scheduler
settings = load_settings(overrides={overrides!r}, environ={{"TASKKIT_HOME": {home!r}}})
summary = Scheduler(settings, exit_when_idle={idle!r}, shutdown_grace_s=10.0).run()
print(summary.render())
"""


def start_scheduler(home: Home, *, exit_when_idle: bool) -> subprocess.Popen[str]:
    """A real scheduler in a child process (its own session, so signals reach only it)."""
    overrides = {
        "database.sql_alchemy_conn": home.db_url,
        "core.executor": home.executor,
        "scheduler.dag_dir_list_interval": 3600.0,
        "scheduler.heartbeat_sec": 0.5,
    }
    script = SCHEDULER_SCRIPT.format(overrides=overrides, home=str(home.path), idle=exit_when_idle)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: state, ppid, ..."""
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()


def parent_of(pid: int) -> int:
    return int(_stat(pid)[1])


def stop(process: subprocess.Popen[str]) -> str:
    """Kill a scheduler process left running by a failed test and return its output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=10)
    return out
