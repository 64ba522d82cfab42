"""The scheduler lease: one live scheduler per metastore, free again the moment it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from databases import POSTGRES_ONLY

from taskkit.errors import SchedulerAlreadyRunningError
from taskkit.metastore import Metastore
from taskkit.metastore.lease import scheduler_lease

HOLDER = textwrap.dedent(
    """
    import sys, time
    from taskkit.metastore import Metastore
    from taskkit.metastore.lease import scheduler_lease
    store = Metastore.open(sys.argv[1])
    with scheduler_lease(store.engine):
        print("held", flush=True)
        time.sleep(60)
    """
)


def test_a_second_holder_is_refused_while_the_first_holds(metastore: Metastore) -> None:
    """While one scheduler holds the lease, another is refused with a clear error."""
    other = Metastore.open(metastore.engine.url.render_as_string(hide_password=False))
    try:
        with (
            scheduler_lease(metastore.engine),
            pytest.raises(SchedulerAlreadyRunningError, match="one scheduler per metastore"),
            scheduler_lease(other.engine),
        ):
            pass
        with scheduler_lease(other.engine):
            pass  # released when the first holder left its block
    finally:
        other.dispose()


def test_the_lease_is_free_as_soon_as_its_holder_is_killed(metastore: Metastore) -> None:
    """A SIGKILLed scheduler's lease is released at once, so a restart can recover right away."""
    url = metastore.engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SchedulerAlreadyRunningError), scheduler_lease(metastore.engine):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while True:  # PostgreSQL notices the closed connection within moments
            try:
                with scheduler_lease(metastore.engine):
                    break
            except SchedulerAlreadyRunningError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_the_lease_holder_is_named_while_it_holds(metastore: Metastore) -> None:
    """While a scheduler process holds the lease, its host and pid can be read; after, nobody."""
    from taskkit.metastore.lease import lease_holder

    url = metastore.engine.url.render_as_string(hide_password=False)
    assert lease_holder(metastore.engine) is None
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        named = lease_holder(metastore.engine)
        assert named is not None and f"pid {holder.pid}" in named
    finally:
        holder.kill()
        holder.wait()


@POSTGRES_ONLY
def test_schedulers_sharing_a_postgresql_lease_exclude_one_that_must_run_alone(
    metastore: Metastore, db_url: str
) -> None:
    """On PostgreSQL several schedulers share the lease; an exclusive holder is refused next
    to them with the reason, and they next to it."""
    other = Metastore.open(metastore.engine.url.render_as_string(hide_password=False))
    try:
        with scheduler_lease(metastore.engine, shared=True):
            with scheduler_lease(other.engine, shared=True):
                pass
            with (
                pytest.raises(SchedulerAlreadyRunningError, match="must run alone"),
                scheduler_lease(other.engine),
            ):
                pass
        with (
            scheduler_lease(metastore.engine),
            pytest.raises(SchedulerAlreadyRunningError),
            scheduler_lease(other.engine, shared=True),
        ):
            pass
    finally:
        other.dispose()
