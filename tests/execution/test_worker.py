"""The zygote on its own, spoken to over its control socket as the Local executor does."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from processes import alive
from test_local_executor import Harness

from taskkit.execution.base import (
    LoadDag,
    RunTries,
    Shutdown,
    TryFinished,
    ZygoteReport,
)
from taskkit.execution.runtime import encode_xcom
from taskkit.execution.workload import Workload, encode_workload
from taskkit.execution.zygote_wire import (
    LAST,
    Channel,
    decode_result,
    describe_exit,
    encode_result,
    unpack_result_header,
)
from taskkit.model.assets import AssetEventSpec
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import Deferral, SkipScope, TryOutcome, TryResult
from taskkit.scheduling.dag_processor import parse_file

pytestmark = pytest.mark.slow


class ZygoteProcess:
    """`python -m taskkit.execution.worker` with both of its sockets, and what it reported."""

    def __init__(self, output: int | None = None) -> None:
        """`output`: where its stdout and stderr go (both to one place); inherited if None."""
        ours, theirs = socket.socketpair()
        self.results, children = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        passed = [theirs, children]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskkit.execution.worker", *(str(s.fileno()) for s in passed)],
            pass_fds=[s.fileno() for s in passed],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=None if output is None else subprocess.STDOUT,
        )
        for end in passed:
            end.close()
        self.control = Channel(ours.detach())
        self.forked: dict[int, int] = {}  # seq -> pid
        self.exited: dict[int, int] = {}  # pid -> wait status
        self.refused: dict[int, str] = {}  # seq -> reason
        self.workloads: dict[int, Workload] = {}  # seq -> what was sent

    def run(self, harness: Harness, *task_ids: str, version: int = 1) -> None:
        """Ask for one try of each task (seq 1, 2, ...) of DAG `version`."""
        self.workloads = {
            seq: harness.workload(task_id) for seq, task_id in enumerate(task_ids, start=1)
        }
        tries = [(seq, version, None, encode_workload(w)) for seq, w in self.workloads.items()]
        self.control.send(RunTries(tries))

    def until(self, done: Callable[[], bool], timeout: float = 20.0) -> None:
        """Read the zygote's reports until `done()` holds."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the zygote did not report in time"
            if self.control.poll(0.1):
                report = self.control.recv()
                assert isinstance(report, ZygoteReport)
                self.forked.update((seq, pid) for seq, pid, _ in report.forked)
                self.exited.update((pid, status) for pid, status, _ in report.exited)
                self.refused.update(report.refused)

    def result(self, timeout: float = 20.0) -> tuple[int, TryFinished]:
        """The next try's result from the results socket: (seq, TryFinished)."""
        chunks: list[bytes] = []
        while True:
            assert select.select([self.results], [], [], timeout)[0], "no result came"
            seq, kind, _, _, chunk = unpack_result_header(self.results.recv(1 << 20))
            chunks.append(chunk)
            if kind == LAST:
                return seq, decode_result(b"".join(chunks), self.workloads[seq])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.results.close()


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


@pytest.fixture
def zygote(harness: Harness) -> Iterator[ZygoteProcess]:
    process = ZygoteProcess()
    process.control.send(LoadDag(1, harness.payload.payload))
    yield process
    process.close()


def test_each_try_runs_in_its_own_child_and_sends_its_result(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """Two tries get two fresh processes (not the zygote); each result names its try."""
    zygote.run(harness, "returns", "raises")
    results = dict(zygote.result() for _ in range(2))
    zygote.until(lambda: len(zygote.forked) == 2 and len(zygote.exited) == 2)
    assert results[1].key.task_id == "returns" and results[1].result.outcome is TryOutcome.SUCCESS
    assert results[2].result.outcome is TryOutcome.FAILED
    assert "no such table" in (results[2].result.error or "")
    pids = set(zygote.forked.values())
    assert len(pids) == 2 and zygote.process.pid not in pids
    assert "no such table" in harness.log("raises")  # the child wrote its own log


def test_each_try_draws_its_own_random_numbers(zygote: ZygoteProcess, harness: Harness) -> None:
    """A DAG using random: its import registered a reseed that every child still runs.

    The zygote forks around os.fork() (execution/forking.py), which runs such
    hooks itself: without them, every try would draw the zygote's numbers.
    """
    zygote.run(harness, "draws", "draws", "draws")
    results = [zygote.result()[1].result for _ in range(3)]
    assert all(r.outcome is TryOutcome.SUCCESS for r in results)
    assert len({r.xcoms["return_value"].data for r in results}) == 3


def test_its_warm_up_tries_leave_no_trace(harness: Harness) -> None:
    """The no-op tries the zygote runs in itself at start send no result and print nothing."""
    zygote = ZygoteProcess(output=subprocess.PIPE)
    try:
        zygote.control.send(LoadDag(1, harness.payload.payload))
        zygote.run(harness, "returns")
        assert zygote.result()[0] == 1  # the first message on the results socket is the try's
        zygote.control.send(Shutdown(5.0))
        output, _ = zygote.process.communicate(timeout=10)
        assert output == b""
        with contextlib.suppress(BlockingIOError):  # nothing there: still open, or closed
            assert zygote.results.recv(1 << 20, socket.MSG_DONTWAIT) == b""
        assert sorted(p.name for p in (harness.tmp_path / "logs").iterdir()) == ["returns"]
    finally:
        zygote.close()


def test_a_dag_whose_import_starts_a_thread_is_forked_the_safe_way_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a second thread in the zygote it forks through os.fork(), tells why, and runs on."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "starts_a_thread.py").write_text(
        "import threading\n"
        "from taskkit import BaseOperator\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        "class Answers(BaseOperator):\n"
        "    def execute(self, context):\n"
        "        return 42\n"
    )
    (tmp_path / "threads.py").write_text(  # the zygote imports the operator's module to load it
        "import datetime as dt\n"
        "from starts_a_thread import Answers\n"
        "from taskkit import DAG\n"
        "with DAG('threads', start_date=dt.datetime(2026, 1, 1)):\n"
        "    Answers(task_id='asks')\n"
    )
    monkeypatch.syspath_prepend(str(lib))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(lib), *sys.path]))
    (parsed,) = parse_file(tmp_path / "threads.py").dags
    zygote = ZygoteProcess(output=subprocess.PIPE)
    try:
        zygote.control.send(LoadDag(1, parsed.payload))
        key = TaskInstanceKey("threads", "run1", "asks")
        when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        log = str(tmp_path / "logs" / "asks.log")
        zygote.workloads = {1: Workload(key, 1, 1, 1, when, {}, "manual", log)}
        zygote.control.send(RunTries([(1, 1, None, encode_workload(zygote.workloads[1]))]))
        result = zygote.result()[1].result
        assert result.outcome is TryOutcome.SUCCESS, result.error
        assert result.xcoms["return_value"].data == b"42"
        zygote.control.send(Shutdown(5.0))
        output, _ = zygote.process.communicate(timeout=10)
        assert b"forking each try through os.fork() from now on" in output
        assert b"2 threads run in it" in output
    finally:
        zygote.close()


def test_a_child_that_dies_is_reported_with_how_it_died(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """A segfault and an os._exit end only their own child; the zygote says how each ended."""
    zygote.run(harness, "segfaults", "exits")
    zygote.until(lambda: len(zygote.exited) == 2)
    how = {seq: describe_exit(zygote.exited[pid]) for seq, pid in zygote.forked.items()}
    assert how == {1: "was killed by signal SIGSEGV", 2: "exited with code 3"}
    zygote.run(harness, "returns")  # and it carries on
    assert zygote.result()[1].result.outcome is TryOutcome.SUCCESS


def test_tries_of_a_version_it_cannot_load_are_refused_with_the_reason(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """A payload that does not unpickle, or a version never sent, refuses its tries, not others."""
    zygote.control.send(LoadDag(2, b"not a pickle"))
    zygote.run(harness, "returns", version=2)
    zygote.until(lambda: 1 in zygote.refused)
    assert "UnpicklingError" in zygote.refused[1]
    zygote.refused.clear()
    zygote.run(harness, "returns", version=9)
    zygote.until(lambda: 1 in zygote.refused)
    assert zygote.refused[1] == "DAG version 9 was never sent"
    zygote.run(harness, "returns")
    assert zygote.result()[1].result.outcome is TryOutcome.SUCCESS


def test_shutdown_kills_what_outlives_the_grace_period_then_exits(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """After Shutdown(grace) it starts nothing new, kills a try still running, and exits 0."""
    zygote.run(harness, "sleeps")
    zygote.until(lambda: 1 in zygote.forked)
    zygote.control.send(Shutdown(0.2))
    zygote.until(lambda: zygote.forked[1] in zygote.exited)
    assert describe_exit(zygote.exited[zygote.forked[1]]) == "was killed by signal SIGKILL"
    assert zygote.process.wait(timeout=10) == 0


def test_a_ctrl_c_to_the_process_group_does_not_stop_it(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """SIGINT and SIGTERM are the scheduler's to act on: the zygote keeps serving tries."""
    zygote.run(harness, "returns")
    assert zygote.result()[1].result.outcome is TryOutcome.SUCCESS
    zygote.process.send_signal(signal.SIGINT)
    zygote.process.send_signal(signal.SIGTERM)
    zygote.run(harness, "returns")
    assert zygote.result()[1].result.outcome is TryOutcome.SUCCESS
    assert zygote.process.poll() is None


def test_it_kills_its_tries_and_exits_when_the_executor_goes_away(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """A scheduler that dies (its end of the socket closes) leaves no try running behind it."""
    zygote.run(harness, "sleeps")
    zygote.until(lambda: 1 in zygote.forked)
    child = zygote.forked[1]
    zygote.control.close()
    assert zygote.process.wait(timeout=10) == 0
    deadline = time.monotonic() + 10
    while alive(child):
        assert time.monotonic() < deadline, "the try outlived its zygote"
        time.sleep(0.05)


def test_a_result_with_every_field_set_travels_whole(harness: Harness) -> None:
    """encode_result/decode_result carry each TryResult field, whatever it holds."""
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    result = TryResult(
        TryOutcome.DEFERRED,
        error="why",
        duration_s=1.5,
        retryable=False,
        xcoms={"return_value": encode_xcom([1, 2])},
        follow=frozenset({"a", "b"}),
        skip_downstream=SkipScope.ALL,
        rendered_fields={"op_args": "[1]"},
        reschedule_at=at,
        first_poke_at=at,
        deferral=Deferral("x.Trigger", "{}", "resume", "{}", timeout_at=at),
        rendered_map_index="first",
        asset_events=(AssetEventSpec("s3://b/k", {"n": 1}, alias="al"),),
    )
    workload = harness.workload("returns")
    before = time.time()
    payload = encode_result(result)
    after = time.time()
    finished = decode_result(payload, workload)
    assert finished.result == result
    assert (finished.key, finished.try_number) == (workload.key, workload.try_number)
    # when the try encoded it (to the microsecond a datetime keeps)
    assert before - 1e-6 <= finished.at.timestamp() <= after + 1e-6


def zombies_of(parent: int) -> int:
    """How many exited children of `parent` are still unreaped."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it went away while we looked
            continue
        count += fields[0] == "Z" and int(fields[1]) == parent
    return count


def test_a_steady_stream_of_tries_leaves_no_pile_of_unreaped_children(
    zygote: ZygoteProcess, harness: Harness
) -> None:
    """Tries sent back to back are reaped as they end, not once the stream stops.

    Before, the zygote reaped only between streams: a long fan-out piled up thousands of
    exited tries until fork failed for want of process ids.
    """
    count = 300
    tries = [
        (seq, 1, None, encode_workload(harness.workload("returns", seq)))
        for seq in range(1, count + 1)
    ]
    zygote.workloads = {seq: harness.workload("returns", seq) for seq in range(1, count + 1)}
    outcomes: list[TryOutcome] = []

    def send() -> None:
        for entry in tries:
            zygote.control.send(RunTries([entry]))

    def collect() -> None:
        outcomes.extend(zygote.result()[1].result.outcome for _ in range(count))

    threads = [threading.Thread(target=send), threading.Thread(target=collect)]
    for thread in threads:
        thread.start()
    most = 0

    def all_exited() -> bool:
        nonlocal most
        most = max(most, zombies_of(zygote.process.pid))
        return len(zygote.exited) == count

    zygote.until(all_exited, timeout=120)
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == [TryOutcome.SUCCESS] * count
    assert most < count // 4, f"{most} exited tries were left unreaped at once"
