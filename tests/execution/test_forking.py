"""The zygote's fork: around os.fork() while one thread runs, with the hooks that matter.

Each check runs in a fresh interpreter, as the zygote does: the test process
itself has other threads (pytest-xdist's), where the Forker uses os.fork().
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

PRELUDE = """
import os, signal, sys
from taskkit.execution.forking import Forker

signal.signal(signal.SIGINT, signal.SIG_IGN)  # as the zygote has it: no Python handler

def child_says(forker, body):
    '''Fork; the child writes what body() returns on a pipe and exits 0. Returns that.'''
    read, write = os.pipe()
    pid = forker.fork()
    if pid == 0:
        try:
            os.write(write, repr(body()).encode())
        finally:
            os._exit(0)
    os.close(write)
    said = os.read(read, 4096).decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    return said
"""


def run(script: str, *, prelude: str = PRELUDE) -> str:
    """Run prelude + script in a fresh interpreter; what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # its stderr makes the better failure message
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_zygotes_own_imports_register_only_threading_and_logging_hooks() -> None:
    """The lean fork skips hooks registered before it watches: only these two may exist."""
    got = run(
        """
        import os, sys
        seen = []
        register = os.register_at_fork
        def spy(**hooks):
            seen.append(sys._getframe(1).f_globals["__name__"])
            register(**hooks)
        os.register_at_fork = spy
        import taskkit.execution.worker  # all it imports; main() watches first thing
        print(sorted(set(seen)))
        """,
        prelude="",
    )
    assert got == "['logging', 'threading']"


def test_a_one_thread_process_forks_around_os_fork_and_the_child_works() -> None:
    """The child runs Python, starts threads, logs, and exits as asked."""
    got = run(
        """
        import logging, threading
        from concurrent.futures import ThreadPoolExecutor
        forker = Forker.watch()
        assert forker.lean

        def body():
            with ThreadPoolExecutor(2) as pool:
                squares = sorted(pool.map(lambda n: n * n, range(4)))
            logging.basicConfig(stream=sys.stdout, format="%(message)s")
            logging.warning("logged")
            return squares, threading.active_count(), os.getpid() != parent

        parent = os.getpid()
        print(child_says(forker, body))
        """
    )
    assert got == "logged\n([0, 1, 4, 9], 1, True)"


def test_random_gives_each_child_its_own_numbers() -> None:
    """A DAG importing random after the zygote watches: its reseed hook still runs per child."""
    got = run(
        """
        forker = Forker.watch()
        import random
        assert forker.lean
        print(len({child_says(forker, random.random) for _ in range(3)}))
        """
    )
    assert got == "3"


def test_hooks_registered_later_run_in_cpythons_order() -> None:
    """before: last registered first; after_in_child and after_in_parent: in order."""
    got = run(
        """
        forker = Forker.watch()
        calls = []
        for name in "ab":
            os.register_at_fork(
                before=lambda n=name: calls.append("before " + n),
                after_in_child=lambda n=name: calls.append("child " + n),
                after_in_parent=lambda n=name: calls.append("parent " + n),
            )
        print(child_says(forker, lambda: calls))
        print(calls)
        """
    )
    child, parent = got.splitlines()
    assert child == "['before b', 'before a', 'child a', 'child b']"
    assert parent == "['before b', 'before a', 'parent a', 'parent b']"


def test_a_second_thread_means_os_fork_until_it_is_gone() -> None:
    """With another thread alive (a DAG's import may start one) os.fork() and its hooks run."""
    got = run(
        """
        import threading, time
        forker = Forker.watch()
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        forker.recount()
        print(forker.lean, child_says(forker, threading.active_count))
        stop.set()
        thread.join()
        time.sleep(0.1)  # the kernel counts the thread until it is reaped
        forker.recount()
        print(forker.lean)
        """
    )
    assert got.splitlines() == ["False 1", "True"]


def test_a_python_signal_handler_means_os_fork() -> None:
    """A child of libc's fork could run a handler a second time; os.fork() clears that."""
    got = run(
        """
        from taskkit.execution.forking import wake_only
        forker = Forker.watch()
        signal.signal(signal.SIGCHLD, wake_only)  # the zygote's: does nothing, so it may stay
        forker.recount()
        lean_with_wake_only = forker.lean
        signal.signal(signal.SIGUSR1, lambda *_: None)
        signal.signal(signal.SIGRTMIN + 2, lambda *_: None)
        forker.recount()
        print(lean_with_wake_only, forker.lean, child_says(forker, lambda: 1))
        print(forker.why_not_lean)
        """
    )
    lean, why = got.splitlines()
    assert lean == "True False 1"
    rt = int(signal.SIGRTMIN) + 2
    assert why == f"Python code handles SIGUSR1, signal {rt} in it (something it imported set that)"


def test_without_watching_it_is_os_fork() -> None:
    """A Forker nobody set up (the zygote outside `main`, as in tests) never goes around."""
    got = run(
        """
        forker = Forker()
        forker.recount()
        print(forker.lean, child_says(forker, lambda: 1))
        """
    )
    assert got == "False 1"
