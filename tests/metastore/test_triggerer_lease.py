"""The triggerer lease: one triggerer runs a metastore's triggers, the others wait on standby."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from taskkit.metastore import Metastore
from taskkit.metastore.triggerer_lease import TriggererLease

HOLDER = textwrap.dedent(
    """
    import sys, time
    from taskkit.metastore import Metastore
    from taskkit.metastore.triggerer_lease import TriggererLease
    store = Metastore.open(sys.argv[1])
    lease = TriggererLease(store.engine)
    assert lease.try_acquire()
    print("held", flush=True)
    time.sleep(60)
    """
)


def test_one_triggerer_holds_the_lease_and_another_takes_it_when_released(
    metastore: Metastore,
) -> None:
    """A second triggerer cannot take the lease while the first holds it, and can after."""
    other = Metastore.open(metastore.engine.url.render_as_string(hide_password=False))
    first, second = TriggererLease(metastore.engine), TriggererLease(other.engine)
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # holding it already
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()
        other.dispose()


def test_the_lease_is_free_as_soon_as_its_holder_is_killed(metastore: Metastore) -> None:
    """A SIGKILLed triggerer's lease goes at once, so a standby one takes over right away."""
    url = metastore.engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    lease = TriggererLease(metastore.engine)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert not lease.try_acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not lease.try_acquire() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease.held
    finally:
        lease.release()
        if holder.poll() is None:
            holder.kill()
