"""fork() for the zygote, without CPython's after-fork work when there is none to do.

In every child, os.fork() re-initialises the interpreter's locks and runs
the hooks modules registered with os.register_at_fork: threading's rebuilds
its table of threads and their locks, logging's re-creates every handler's
lock. They are there for locks another thread may have held when the
process forked. In a process with one thread none can be held, and the work
only costs: it writes to ~200 pages the child shares with the zygote, each
of which the kernel then copies (bench/bench_executor.py, a child that runs
nothing: 253 against 57 page faults, 0.95 against 0.41 ms of CPU).

So while the zygote has one thread and no Python signal handler (`recount`),
`Forker.fork` calls libc's fork() itself (through ctypes, holding the GIL)
and runs the hooks that still matter: every one registered after
`Forker.watch()`, that is by the DAGs the zygote loads (random's reseed, a
library's own), in CPython's order. The zygote's own imports register only
threading's and logging's (tests/execution/test_forking.py checks it).
Otherwise (a DAG whose import started a thread, CPython 3.13 or later,
another interpreter, no libc) it is os.fork().
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import attrs

Hook = Callable[[], object]

#: CPython versions whose after-fork work was read and found to be no-ops for a process
#: of one thread (docs/performance.md). Not 3.13: there a thread that ended but was never
#: joined keeps a handle only os.fork()'s clean-up marks done, and the child's own threads
#: could then fail to join.
_CHECKED_VERSIONS = ((3, 10), (3, 11), (3, 12))


@attrs.define
class Forker:
    """Forks this process; `watch` it first to learn the at-fork hooks registered later."""

    #: Hooks registered since `watch()`, in registration order.
    before: list[Hook] = attrs.Factory(list)
    after_in_parent: list[Hook] = attrs.Factory(list)
    after_in_child: list[Hook] = attrs.Factory(list)
    #: libc's fork, or None where os.fork() is always used.
    libc_fork: Any = None
    #: What keeps `fork` from going around os.fork() where only this process's state does
    #: (a thread, a handler), as `recount` last found it.
    why_not_lean: str | None = None

    @property
    def lean(self) -> bool:
        """Whether `fork` goes around os.fork(): libc's is there, one thread runs, no handler."""
        return self.libc_fork is not None and self.why_not_lean is None

    @classmethod
    def watch(cls) -> Forker:
        """A Forker that sees every os.register_at_fork call from now on (process-wide)."""
        forker = cls(libc_fork=_libc_fork())
        forker.recount()
        register = os.register_at_fork

        def recorded(
            *,
            before: Hook | None = None,
            after_in_child: Hook | None = None,
            after_in_parent: Hook | None = None,
        ) -> None:
            given = {
                "before": before,
                "after_in_child": after_in_child,
                "after_in_parent": after_in_parent,
            }
            register(**{name: hook for name, hook in given.items() if hook is not None})
            forker.record(**given)  # after os's own checks passed; os.fork() still runs them

        os.register_at_fork = recorded
        return forker

    def record(
        self,
        *,
        before: Hook | None = None,
        after_in_child: Hook | None = None,
        after_in_parent: Hook | None = None,
    ) -> None:
        """Remember hooks as os.register_at_fork took them."""
        if before is not None:
            self.before.append(before)
        if after_in_child is not None:
            self.after_in_child.append(after_in_child)
        if after_in_parent is not None:
            self.after_in_parent.append(after_in_parent)

    def recount(self) -> None:
        """Look again at threads and signal handlers; call it after code not its own ran.

        Only code can start a thread or set a handler, and the only code the
        zygote runs that is not its own is a DAG's, when it loads one: looking
        then rather than at each fork keeps ~30 page faults per fork out of it.
        A Python signal handler rules the lean fork out too: os.fork() drops,
        in the child, a signal that arrived but whose handler had not run yet,
        where the child of libc's fork would run it a second time. `wake_only`,
        which does nothing, is the exception.
        """
        self.why_not_lean = None if self.libc_fork is None else _why_not_lean()

    def fork(self) -> int:
        """Fork: 0 in the child, its pid in the parent; raises OSError as os.fork() does."""
        if not self.lean:
            return os.fork()
        if self.before:
            _run_hooks(reversed(self.before))  # CPython runs these last-registered first
        pid = int(self.libc_fork())
        hooks = self.after_in_child if pid == 0 else self.after_in_parent  # also on failure
        if hooks:
            _run_hooks(hooks)
        if pid < 0:
            number = ctypes.get_errno()  # ctypes kept the call's errno
            raise OSError(number, os.strerror(number))
        return pid


def _why_not_lean() -> str | None:
    threads = thread_count()
    if threads == 0:
        return "its threads cannot be counted (/proc/self/stat cannot be read)"
    if threads > 1:
        return f"{threads} threads run in it (something it imported started them)"
    if handlers := python_signal_handlers():
        names = ", ".join(_signal_name(signum) for signum in handlers)
        return f"Python code handles {names} in it (something it imported set that)"
    return None


def wake_only(signum: int, frame: object) -> None:
    """A handler that does nothing: installed so that a signal writes signal.set_wakeup_fd's."""


def python_signal_handlers() -> list[int]:
    """The signals whose handler is Python code, other than `wake_only`."""
    found: list[int] = []
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except ValueError:  # not one this platform lets Python see
            continue
        if callable(handler) and handler is not wake_only:
            found.append(signum)
    return found


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # a real-time signal past SIGRTMIN has no name of its own
        return f"signal {signum}"


def thread_count() -> int:
    """This process's threads as the kernel counts them (C threads included); 0 if unknown."""
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        stat = os.read(fd, 1024)
    finally:
        os.close(fd)
    # Fields after the command name (which may hold spaces, so split past its ")"):
    # state is field 3, num_threads field 20.
    return int(stat.rpartition(b")")[2].split()[17])


def _libc_fork() -> Any:
    """libc's fork, called with the GIL held; None where that is not known to be sound."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] not in _CHECKED_VERSIONS:
        return None
    if not sys.platform.startswith("linux"):
        return None
    try:
        fork = ctypes.PyDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return None
    fork.restype = ctypes.c_int
    fork.argtypes = ()
    return fork


def _run_hooks(hooks: Iterable[Hook]) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:  # as CPython does: report it and go on
            traceback.print_exc()
