"""The Local and Sequential executors on their own: real zygote, real forked tries."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import alive
from tasklogs import format_log

from taskkit import serde
from taskkit.execution.base import DagPayload, Event, TryFinished, TryStarted
from taskkit.execution.local import LocalExecutor, SequentialExecutor
from taskkit.execution.runtime import decode_xcom, encode_xcom
from taskkit.execution.workload import Workload
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import TryOutcome
from taskkit.scheduling.dag_processor import parse_file

pytestmark = pytest.mark.slow

KEY = b"k" * 32

DAG_FILE = """
import ctypes
import datetime as dt
import itertools
import os
import random
import signal
import socket
import time

from taskkit import BashOperator, DAG, PythonOperator

MARKS = {marks!r}


def returns(ti):
    ti.xcom_push("extra", [1, 2])
    return {{"upstream": ti.xcom_pull("up"), "try": ti.try_number}}


def raises():
    raise ValueError("no such table")


def segfaults():
    ctypes.string_at(0)


def chatty():
    for i in range(30_000):
        print(f"row {{i:05d}} " + "y" * 100)


def deaf():
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGALRM}})
    time.sleep(30)


def marks(name, seconds):
    start = time.time()
    time.sleep(seconds)
    with open(os.path.join(MARKS, name), "w") as file:
        file.write(f"{{start}} {{time.time()}}")


with DAG("ex", schedule=None, start_date=dt.datetime(2026, 1, 1)) as ex:
    PythonOperator(task_id="up", python_callable=lambda: 7) >> PythonOperator(
        task_id="returns", python_callable=returns
    )
    PythonOperator(task_id="raises", python_callable=raises)
    PythonOperator(task_id="exits", python_callable=lambda: os._exit(3))
    PythonOperator(task_id="segfaults", python_callable=segfaults)
    PythonOperator(task_id="sleeps", python_callable=lambda: time.sleep(30))
    PythonOperator(task_id="deaf", python_callable=deaf)
    PythonOperator(task_id="chatty", python_callable=chatty)
    PythonOperator(task_id="draws", python_callable=lambda: random.random())
    PythonOperator(task_id="big", python_callable=lambda ti: len(ti.xcom_pull("up")) * "x")
    PythonOperator(task_id="weighs", python_callable=lambda task: task.priority_weight_total,
                   priority_weight=5) >> PythonOperator(task_id="light", python_callable=int)
    BashOperator(task_id="bash_hangs",
                 bash_command="sleep 30 & echo $! > {marks}/grandchild; wait")
    for i in range(3):
        PythonOperator(task_id=f"mark_{{i}}", python_callable=marks,
                       op_kwargs={{"name": f"mark_{{i}}", "seconds": 0.2}})
    for i in range({holds}):
        PythonOperator(task_id=f"hold_{{i}}", python_callable=marks,
                       op_kwargs={{"name": f"hold_{{i}}", "seconds": 1.0}})
"""

#: More tries than a reusing executor starts workers for (one per CPU).
HOLDS = len(os.sched_getaffinity(0)) + 2


class Harness:
    """A DAG version the executors can run, and a way to build workloads for its tasks."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.marks = tmp_path / "marks"
        self.marks.mkdir()
        path = tmp_path / "ex.py"
        path.write_text(textwrap.dedent(DAG_FILE.format(marks=str(self.marks), holds=HOLDS)))
        (parsed,) = parse_file(path).dags
        self.payload = DagPayload(1, parsed.payload, serde.sign(parsed.payload, KEY))

    def workload(self, task_id: str, try_number: int = 1, **changes: object) -> Workload:
        key = TaskInstanceKey("ex", "run1", task_id)
        fields: dict[str, object] = {
            "key": key,
            "try_number": try_number,
            "max_tries": 1,
            "dag_version_id": 1,
            "logical_date": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "conf": {},
            "run_type": "manual",
            "log_path": str(self.tmp_path / "logs" / task_id / f"{try_number}.log"),
            **changes,
        }
        return Workload(**fields)  # type: ignore[arg-type]

    def log(self, task_id: str, try_number: int = 1) -> str:
        return format_log(self.tmp_path / "logs" / task_id / f"{try_number}.log")


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(4, KEY)
    executor.start()
    yield executor
    executor.shutdown(0)


def poll_until_done(
    executor: LocalExecutor, timeout: float = 20.0, failure: str = "tries did not finish"
) -> list[Event]:
    """Poll until nothing is in flight; every event reported meanwhile."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while executor.running():
        assert time.monotonic() < deadline, failure
        events.extend(executor.poll(0.2))
    return events


def run_all(executor: LocalExecutor, timeout: float = 20.0) -> dict[str, TryFinished]:
    """Poll until nothing is in flight; the TryFinished of each task."""
    events = poll_until_done(executor, timeout)
    return {e.key.task_id: e for e in events if isinstance(e, TryFinished)}


def run_one(
    executor: LocalExecutor, workload: Workload, harness: Harness
) -> tuple[TryStarted, TryFinished]:
    """Run one try alone: the two events it reports, the start first."""
    executor.submit(workload, harness.payload)
    events: list[Event] = []
    while executor.running():
        events.extend(executor.poll(5))
    started, finished = events
    assert isinstance(started, TryStarted) and isinstance(finished, TryFinished)
    return started, finished


def test_a_try_reads_its_priority_weight_total(executor: LocalExecutor, harness: Harness) -> None:
    """The zygote holds DAGs without their cached spec (every fork copies what it holds);
    a task that reads its priority_weight_total still gets the DAG's figure (5 + 1 below)."""
    _, finished = run_one(executor, harness.workload("weighs"), harness)
    assert finished.result.outcome is TryOutcome.SUCCESS, finished.result.error
    assert decode_xcom(finished.result.xcoms["return_value"]) == 6


def test_success_reports_value_and_pushed_xcoms(executor: LocalExecutor, harness: Harness) -> None:
    """A try that returns reports success, its value, its pushed XComs and a TryStarted first."""
    upstream = {("up", "return_value"): encode_xcom("hi")}
    workload = harness.workload("returns", 2, upstream_xcoms=upstream)
    started, finished = run_one(executor, workload, harness)
    assert started.try_number == 2 and started.pid > 0
    assert finished.result.outcome is TryOutcome.SUCCESS
    pushed = {name: decode_xcom(value) for name, value in finished.result.xcoms.items()}
    assert pushed == {"return_value": {"upstream": "hi", "try": 2}, "extra": [1, 2]}
    assert "outcome=success" in harness.log("returns", 2)


def test_failures_are_reported_with_their_reason(executor: LocalExecutor, harness: Harness) -> None:
    """Raising, os._exit and a segfault each end as a failed try with the reason in its log."""
    for task_id in ("raises", "exits", "segfaults"):
        executor.submit(harness.workload(task_id), harness.payload)
    finished = run_all(executor)
    expected = {
        "raises": "ValueError: no such table",
        "exits": "exited with code 3",
        "segfaults": "killed by signal SIGSEGV",
    }
    for task_id, reason in expected.items():
        result = finished[task_id].result
        assert result.outcome is TryOutcome.FAILED
        assert reason in (result.error or "")
        assert reason in harness.log(task_id)
    assert "Traceback" in harness.log("raises")


def test_timeout_kills_the_whole_process_group(executor: LocalExecutor, harness: Harness) -> None:
    """Past execution_timeout the try fails, and what it started in the background dies too."""
    executor.submit(harness.workload("bash_hangs", execution_timeout_s=0.5), harness.payload)
    executor.submit(harness.workload("sleeps", execution_timeout_s=0.3), harness.payload)
    finished = run_all(executor)
    for task_id in ("bash_hangs", "sleeps"):
        assert finished[task_id].result.outcome is TryOutcome.FAILED
        assert "execution_timeout" in (finished[task_id].result.error or "")
    grandchild = int((harness.marks / "grandchild").read_text())
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild), "the background `sleep 30` outlived the timed-out try"


def test_a_try_deaf_to_its_timeout_is_killed_after_a_grace(
    executor: LocalExecutor, harness: Harness
) -> None:
    """A try that blocks its timeout alarm still fails: it is killed a grace period later."""
    executor.submit(harness.workload("deaf", execution_timeout_s=0.2), harness.payload)
    result = run_all(executor)["deaf"].result
    assert result.outcome is TryOutcome.FAILED
    assert "execution_timeout of 0.2s exceeded; killed" in (result.error or "")


def test_megabytes_of_output_reach_the_log(executor: LocalExecutor, harness: Harness) -> None:
    """Several megabytes on stdout neither block the try nor lose lines."""
    executor.submit(harness.workload("chatty"), harness.payload)
    assert run_all(executor)["chatty"].result.outcome is TryOutcome.SUCCESS
    rows = [line for line in harness.log("chatty").splitlines() if line.startswith("row ")]
    assert len(rows) == 30_000 and rows[-1].startswith("row 29999 ")


def test_dead_zygote_loses_in_flight_tries_and_is_replaced(
    executor: LocalExecutor, harness: Harness
) -> None:
    """When the warm worker dies, its tries are reported lost, killed, and a new worker runs on."""
    executor.submit(harness.workload("sleeps"), harness.payload)
    started = executor.poll(5)
    assert isinstance(started[0], TryStarted)
    assert executor._process is not None
    os.kill(executor._process.pid, signal.SIGKILL)

    finished = run_all(executor)

    assert finished["sleeps"].result.outcome is TryOutcome.FAILED
    assert "worker process died" in (finished["sleeps"].result.error or "")
    deadline = time.monotonic() + 5
    while alive(started[0].pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(started[0].pid), "the orphaned try kept running"
    executor.submit(harness.workload("returns", 2), harness.payload)
    assert run_all(executor)["returns"].result.outcome is TryOutcome.SUCCESS


def test_sequential_executor_runs_one_try_at_a_time(harness: Harness) -> None:
    """The Sequential executor runs tries one after another even when given several at once."""
    executor = SequentialExecutor(KEY)
    assert executor.capacity == 1
    executor.start()
    try:
        for i in range(3):
            executor.submit(harness.workload(f"mark_{i}"), harness.payload)
        finished = run_all(executor)
    finally:
        executor.shutdown(0)
    assert all(f.result.outcome is TryOutcome.SUCCESS for f in finished.values())
    spans = sorted(
        tuple(map(float, (harness.marks / f"mark_{i}").read_text().split())) for i in range(3)
    )
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_local_executor_runs_tries_at_once(executor: LocalExecutor, harness: Harness) -> None:
    """The Local executor runs submitted tries in parallel processes."""
    for i in range(3):
        executor.submit(harness.workload(f"mark_{i}"), harness.payload)
    run_all(executor)
    spans = [tuple(map(float, (harness.marks / f"mark_{i}").read_text().split())) for i in range(3)]
    assert max(s[0] for s in spans) < min(s[1] for s in spans)


def test_a_log_that_cannot_be_opened_fails_that_try_alone(
    executor: LocalExecutor, harness: Harness
) -> None:
    """A too-long run id or a logs folder that is a file fails that try, with why; others run on."""
    blocker = harness.tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    too_long = harness.workload("up", log_path=str(harness.tmp_path / ("r" * 300) / "1.log"))
    under_file = harness.workload("raises", log_path=str(blocker / "raises" / "1.log"))
    executor.submit(too_long, harness.payload)
    executor.submit(under_file, harness.payload)
    assert executor._process is not None
    zygote = executor._process.pid
    finished = run_all(executor)
    assert "File name too long" in (finished["up"].result.error or "")
    assert "Not a directory" in (finished["raises"].result.error or "")
    for result in (f.result for f in finished.values()):
        assert "cannot open the try's log file" in (result.error or "")
    executor.submit(harness.workload("returns"), harness.payload)
    assert run_all(executor)["returns"].result.outcome is TryOutcome.SUCCESS
    assert executor._process.pid == zygote and executor._process.poll() is None


@pytest.mark.parametrize("how", ["closed", "stopped_reading"])
def test_zygote_exits_quietly_when_the_scheduler_is_gone(
    harness: Harness, capfd: pytest.CaptureFixture[str], how: str
) -> None:
    """A vanished scheduler (socket closed, writes failing) stops the zygote without a traceback."""
    executor = LocalExecutor(4, KEY)
    executor.start()
    executor.submit(harness.workload("sleeps"), harness.payload)
    executor.submit(harness.workload("mark_0"), harness.payload)
    started = [e for e in executor.poll(5) if isinstance(e, TryStarted)]
    while len(started) < 2:
        started += [e for e in executor.poll(5) if isinstance(e, TryStarted)]
    process, conn = executor._process, executor._conn
    assert process is not None and conn is not None
    if how == "closed":
        conn.close()
    else:  # the zygote's next report (mark_0 ending) hits a broken pipe
        socket.socket(fileno=os.dup(conn.fileno())).shutdown(socket.SHUT_RD)
    assert process.wait(10) == 0
    assert "Traceback" not in capfd.readouterr().err
    for event in started:  # the sleeping try did not outlive its zygote
        deadline = time.monotonic() + 5
        while alive(event.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(event.pid)
    if how == "stopped_reading":
        conn.close()
    executor._conn = None
    executor._lost_worker()


def _holds(pid: int, secret: bytes) -> bool:
    """Whether process `pid` has `secret` anywhere in its writable memory."""
    maps = Path(f"/proc/{pid}/maps").read_text(encoding="ascii").splitlines()
    with Path(f"/proc/{pid}/mem").open("rb") as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                if secret in mem.read(end - start):
                    return True
            except OSError:
                continue
    return False


def test_tries_never_hold_the_secret_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a try nor the zygote has the secret key in its memory or its environment."""
    secret = os.urandom(32)
    monkeypatch.setenv("TASKKIT__CORE__SECRET_KEY", secret.hex())
    harness = Harness(tmp_path)
    payload = DagPayload(1, harness.payload.payload, serde.sign(harness.payload.payload, secret))
    executor = LocalExecutor(2, secret)
    executor.start()
    try:
        executor.submit(harness.workload("sleeps"), payload)
        started = [e for e in executor.poll(5) if isinstance(e, TryStarted)]
        assert started, "the try did not start"
        assert executor._process is not None
        for pid in (started[0].pid, executor._process.pid):
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"TASKKIT__CORE__SECRET_KEY" not in environ
            assert not _holds(pid, secret) and not _holds(pid, secret.hex().encode())
    finally:
        executor.shutdown(0)


def test_a_payload_that_fails_its_check_fails_its_tries(
    executor: LocalExecutor, harness: Harness
) -> None:
    """A DAG version signed with another key is never loaded; its tries fail with the reason."""
    forged = DagPayload(1, harness.payload.payload, serde.sign(harness.payload.payload, b"x" * 32))
    executor.submit(harness.workload("up"), forged)
    assert "HMAC" in (run_all(executor)["up"].result.error or "")


@pytest.fixture
def reusing() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(2, KEY, reuse_processes=3)
    executor.start()
    yield executor
    executor.shutdown(0)


def test_process_reuse_runs_several_tries_per_process(
    reusing: LocalExecutor, harness: Harness
) -> None:
    """With reuse_processes = 3, a worker process runs up to three tries, then is replaced."""
    pids: list[int] = []
    for try_number in range(1, 10):
        started, finished = run_one(reusing, harness.workload("up", try_number), harness)
        assert finished.result.outcome is TryOutcome.SUCCESS
        assert decode_xcom(finished.result.xcoms["return_value"]) == 7
        pids.append(started.pid)
    counts = {pid: pids.count(pid) for pid in pids}
    assert max(counts.values()) == 3, pids  # reused, and never past the limit
    assert harness.log("up", 9).count("try_started") == 1


def test_process_reuse_replaces_a_worker_past_its_memory_limit(harness: Harness) -> None:
    """A worker whose resident memory passed reuse_max_rss_mb runs no further try."""
    executor = LocalExecutor(1, KEY, reuse_processes=100, reuse_max_rss_mb=1)
    executor.start()
    try:
        pids = []
        for try_number in (1, 2, 3):
            started, finished = run_one(executor, harness.workload("up", try_number), harness)
            assert finished.result.outcome is TryOutcome.SUCCESS
            pids.append(started.pid)
    finally:
        executor.shutdown(0)
    assert len(set(pids)) == 3, pids  # any Python process is past 1 MiB


def test_process_reuse_keeps_crash_isolation_and_timeouts(
    reusing: LocalExecutor, harness: Harness
) -> None:
    """A reused worker that crashes or overruns fails that try only; the next try still runs."""
    reusing.submit(harness.workload("segfaults"), harness.payload)
    reusing.submit(harness.workload("sleeps", execution_timeout_s=0.3), harness.payload)
    finished = run_all(reusing)
    assert "killed by signal SIGSEGV" in (finished["segfaults"].result.error or "")
    assert "execution_timeout" in (finished["sleeps"].result.error or "")
    upstream = {("up", "return_value"): encode_xcom(1)}
    reusing.submit(harness.workload("returns", upstream_xcoms=upstream), None)
    assert run_all(reusing)["returns"].result.outcome is TryOutcome.SUCCESS


def test_process_reuse_grows_its_pool_to_run_capacity_tries_at_once(harness: Harness) -> None:
    """With reuse the pool starts at a worker per CPU; tries left waiting get a worker each."""
    executor = LocalExecutor(HOLDS, KEY, reuse_processes=3)
    executor.start()
    try:
        for i in range(HOLDS):
            executor.submit(harness.workload(f"hold_{i}"), harness.payload)
        finished = run_all(executor)
    finally:
        executor.shutdown(0)
    assert all(f.result.outcome is TryOutcome.SUCCESS for f in finished.values())
    spans = [(harness.marks / f"hold_{i}").read_text().split() for i in range(HOLDS)]
    assert max(float(start) for start, _ in spans) < min(float(end) for _, end in spans)


def _live_children(pid: int) -> set[int]:
    """The process ids of `pid`'s children that have not exited."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def test_process_reuse_pool_shrinks_back_once_idle(harness: Harness) -> None:
    """Workers a burst added exit after reuse_idle_timeout without a try; the first ones stay."""
    idle = 1.0
    executor = LocalExecutor(HOLDS, KEY, reuse_processes=100, reuse_idle_timeout=idle)
    executor.start()
    try:
        assert executor._process is not None
        zygote = executor._process.pid
        for i in range(HOLDS):
            executor.submit(harness.workload(f"hold_{i}"), harness.payload)
        events: list[Event] = []
        while sum(isinstance(e, TryStarted) for e in events) < HOLDS:
            events.extend(executor.poll(0.1))
        assert len(_live_children(zygote)) == HOLDS  # one worker per running try
        assert all(f.result.outcome is TryOutcome.SUCCESS for f in run_all(executor).values())
        least = len(os.sched_getaffinity(0))
        deadline = time.monotonic() + 20
        while len(_live_children(zygote)) > least:
            assert time.monotonic() < deadline, "the workers the burst added did not exit"
            executor.poll(0.1)
        kept = _live_children(zygote)
        time.sleep(2 * idle)
        assert _live_children(zygote) == kept  # the pool's first workers wait on
        started, finished = run_one(executor, harness.workload("up"), harness)
        assert finished.result.outcome is TryOutcome.SUCCESS
        assert started.pid in kept
    finally:
        executor.shutdown(0)


def test_a_reused_worker_killed_holding_an_unreported_workload_loses_nothing(
    reusing: LocalExecutor, harness: Harness
) -> None:
    """A workload taken off the work socket by a process that died before it reported it runs
    once, in a worker, and succeeds: it does not stay queued for good."""
    run_one(reusing, harness.workload("up"), harness)
    assert reusing._process is not None and reusing._work_queue is not None
    zygote = reusing._process.pid
    least = min(2, len(os.sched_getaffinity(0)))  # a worker per CPU, at most capacity
    deadline = time.monotonic() + 10
    while len(workers := _live_children(zygote)) < least:
        assert time.monotonic() < deadline, "the pool did not start"
        time.sleep(0.01)
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)  # none of them can take the workload
    reusing.submit(harness.workload("mark_0"), harness.payload)
    reusing.poll(0)  # on the work socket
    # This process plays the worker that takes it and dies before its report: the workload
    # leaves the socket unreported, and a worker's death follows.
    taken = reusing._work_queue.recv(64 * 1024)
    assert taken
    victim, *others = workers
    os.kill(victim, signal.SIGKILL)
    for pid in others:
        os.kill(pid, signal.SIGCONT)
    events = poll_until_done(reusing, failure="the workload taken and not reported was lost")
    started = [e for e in events if isinstance(e, TryStarted)]
    finished = {e.key.task_id: e.result.outcome for e in events if isinstance(e, TryFinished)}
    assert finished == {"mark_0": TryOutcome.SUCCESS}
    assert len(started) == 1 and started[0].pid != victim
    assert [p.name for p in harness.marks.iterdir()] == ["mark_0"]


def test_process_reuse_picks_up_a_dag_version_sent_later(
    reusing: LocalExecutor, harness: Harness
) -> None:
    """Workers forked before a new DAG version arrived hand its tries back; fresh ones run them."""
    reusing.submit(harness.workload("up"), harness.payload)
    assert run_all(reusing)["up"].result.outcome is TryOutcome.SUCCESS
    second = DagPayload(2, harness.payload.payload, harness.payload.signature)
    reusing.submit(harness.workload("up", 2, dag_version_id=2), second)
    assert run_all(reusing)["up"].result.outcome is TryOutcome.SUCCESS


@pytest.mark.parametrize("fixture", ["executor", "reusing"])
def test_large_results_and_workloads_travel_whole(
    harness: Harness, request: pytest.FixtureRequest, fixture: str
) -> None:
    """A result and an upstream value of hundreds of kilobytes reach their destination intact."""
    executor: LocalExecutor = request.getfixturevalue(fixture)
    upstream = {("up", "return_value"): encode_xcom("y" * 300_000)}
    workload = harness.workload("big", upstream_xcoms=upstream)
    executor.submit(workload, harness.payload)
    result = run_all(executor)["big"].result
    assert result.outcome is TryOutcome.SUCCESS, result.error
    assert decode_xcom(result.xcoms["return_value"]) == "x" * 300_000


def _spares_ready(executor: LocalExecutor, harness: Harness) -> set[int]:
    """Run one try, then wait until the zygote has forked its spares: their process ids."""
    started, finished = run_one(executor, harness.workload("up"), harness)
    assert finished.result.outcome is TryOutcome.SUCCESS
    assert executor._process is not None
    zygote = executor._process.pid
    deadline = time.monotonic() + 10
    while len(spares := _live_children(zygote) - {started.pid}) < 2 or len(executor._spares) < 2:
        assert time.monotonic() < deadline, "the zygote forked no spares"
        time.sleep(0.01)
        executor._read_spares()  # the executor hears of them as it sends its next tries
    assert {pid for pid, _ in executor._spares} == spares
    return spares


def test_a_try_starts_in_a_spare_forked_before_it_was_submitted(
    executor: LocalExecutor, harness: Harness
) -> None:
    """The next try runs in a process forked ahead of it, fresh, and the zygote forks another."""
    spares = _spares_ready(executor, harness)
    upstream = {("up", "return_value"): encode_xcom(7)}
    started, finished = run_one(
        executor, harness.workload("returns", upstream_xcoms=upstream), harness
    )
    assert started.pid in spares
    assert finished.result.outcome is TryOutcome.SUCCESS
    assert decode_xcom(finished.result.xcoms["return_value"]) == {"upstream": 7, "try": 1}
    second, _ = run_one(executor, harness.workload("draws"), harness)
    assert second.pid != started.pid  # each try in a process of its own


def test_tries_in_spares_keep_crash_isolation_and_timeouts(
    executor: LocalExecutor, harness: Harness
) -> None:
    """A spare's try that overruns is failed and killed with what it started; a crash fails it."""
    spares = _spares_ready(executor, harness)
    executor.submit(harness.workload("bash_hangs", execution_timeout_s=0.5), harness.payload)
    executor.submit(harness.workload("deaf", execution_timeout_s=0.2), harness.payload)
    events = poll_until_done(executor, 30)
    assert {e.pid for e in events if isinstance(e, TryStarted)} == spares
    finished = {e.key.task_id: e.result for e in events if isinstance(e, TryFinished)}
    assert "execution_timeout" in (finished["bash_hangs"].error or "")
    assert "execution_timeout of 0.2s exceeded; killed" in (finished["deaf"].error or "")
    grandchild = int((harness.marks / "grandchild").read_text())
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild), "the background `sleep 30` outlived the timed-out try"
    spares = _spares_ready(executor, harness)
    started, finished_segfault = run_one(executor, harness.workload("segfaults"), harness)
    assert started.pid in spares
    assert "killed by signal SIGSEGV" in (finished_segfault.result.error or "")


def test_a_dag_version_the_spares_lack_runs_in_a_fresh_process(
    executor: LocalExecutor, harness: Harness
) -> None:
    """Spares forked before a DAG version came hand its tries back; the zygote forks for them."""
    spares = _spares_ready(executor, harness)
    second = DagPayload(2, harness.payload.payload, harness.payload.signature)
    for number in (2, 3):  # as many as there are spares, so each one hands one back
        executor.submit(harness.workload("up", number, dag_version_id=2), second)
        events: list[Event] = []
        while executor.running():
            events.extend(executor.poll(5))
        started, finished = events
        assert isinstance(started, TryStarted) and isinstance(finished, TryFinished)
        assert finished.result.outcome is TryOutcome.SUCCESS, finished.result.error
        assert started.pid not in spares


def test_a_spare_killed_while_waiting_is_replaced(
    executor: LocalExecutor, harness: Harness
) -> None:
    """A spare that dies before any try came to it loses nothing: the tries still run."""
    for pid in _spares_ready(executor, harness):
        os.kill(pid, signal.SIGKILL)
    for task_id in ("mark_0", "mark_1", "mark_2"):
        executor.submit(harness.workload(task_id), harness.payload)
    finished = run_all(executor)
    assert {t: f.result.outcome for t, f in finished.items()} == {
        f"mark_{i}": TryOutcome.SUCCESS for i in range(3)
    }


def test_a_spare_killed_with_its_workload_unstarted_loses_nothing(
    executor: LocalExecutor, harness: Harness
) -> None:
    """A spare killed after its workload was written, before it began, ran none of it: the
    try runs once, in another process, and succeeds."""
    spares = _spares_ready(executor, harness)
    for pid in spares:
        os.kill(pid, signal.SIGSTOP)  # they wait for their workloads, and cannot take them
    for task_id in ("mark_0", "mark_1"):
        executor.submit(harness.workload(task_id), harness.payload)
    executor.poll(0)  # both workloads written to the stopped spares' pipes
    for pid in spares:
        os.kill(pid, signal.SIGKILL)
    events = poll_until_done(executor)
    started = [e for e in events if isinstance(e, TryStarted)]
    finished = {e.key.task_id: e.result.outcome for e in events if isinstance(e, TryFinished)}
    assert finished == {"mark_0": TryOutcome.SUCCESS, "mark_1": TryOutcome.SUCCESS}
    assert len(started) == 2 and not {e.pid for e in started} & spares
    assert sorted(p.name for p in harness.marks.iterdir()) == ["mark_0", "mark_1"]


def test_shutdown_ends_the_waiting_spares(executor: LocalExecutor, harness: Harness) -> None:
    """Spares waiting for work exit with the zygote when the executor shuts down."""
    spares = _spares_ready(executor, harness)
    assert executor._process is not None
    zygote = executor._process
    # Tries still running would have 60 s to end; with none running, the zygote ends as soon
    # as its spares do, long before (were they left waiting, it would kill them at 60 s).
    ending = threading.Thread(target=executor.shutdown, args=(60,))
    ending.start()
    ending.join(30)
    assert not ending.is_alive(), "shutdown waited for the idle spares"
    assert zygote.poll() is not None
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in spares) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in spares)


@pytest.mark.parametrize("fixture", ["executor", "reusing"])
def test_a_dag_version_that_fails_to_load_fails_its_tries_with_the_reason(
    harness: Harness, request: pytest.FixtureRequest, fixture: str
) -> None:
    """Spares and reused workers hand its tries back; the zygote then fails them, saying why."""
    executor: LocalExecutor = request.getfixturevalue(fixture)
    if fixture == "executor":
        _spares_ready(executor, harness)
    else:
        assert run_one(executor, harness.workload("up"), harness)[1].result.error is None
    unloadable = b"\x80\x04cno_such_module_here\nThing\n."  # a pickle naming a missing module
    broken = DagPayload(3, unloadable, serde.sign(unloadable, KEY))
    executor.submit(harness.workload("up", 2, dag_version_id=3), broken)
    result = run_all(executor)["up"].result
    assert result.outcome is TryOutcome.FAILED
    assert "could not be loaded" in (result.error or "")
    assert "no_such_module_here" in (result.error or "")
