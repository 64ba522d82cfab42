"""Waking a running scheduler on this host the moment a run is triggered.

A scheduler notices runs that other processes create when it next refreshes
(every 0.5 s), so a `dags trigger` or an API trigger waited up to that long
before its first task was queued. Now the scheduler also listens on a datagram
socket named after its metastore in Linux's abstract namespace (no file to
clean up, nothing left behind by a killed scheduler), and `wake_scheduler`
sends it a byte after a run is created. The byte carries nothing: it only
moves the next refresh forward, so a forged one costs a refresh at most
every `MIN_INTERVAL_S`. Where nothing listens (no scheduler on this host,
another platform) the byte is dropped and the refresh interval still holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket

from taskkit.metastore.engine import normalize_url, sqlite_path

#: Wake-ups move a refresh forward, but never closer than this to the last one.
MIN_INTERVAL_S = 0.01


def _address(metastore_url: str) -> bytes:
    """The socket's name: one per metastore (a SQLite file by its real path)."""
    url = normalize_url(metastore_url)
    path = sqlite_path(url)
    name = str(path.resolve()) if path is not None else url.render_as_string(hide_password=True)
    return b"\0taskkit-scheduler-" + hashlib.sha256(name.encode()).hexdigest()[:32].encode()


class WakeUps:
    """The scheduler's end: readable (`fileno`) when someone asked it to look now."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock

    @classmethod
    def listen(cls, metastore_url: str) -> WakeUps | None:
        """Listen for wake-ups; None where that cannot be done (taken by another scheduler
        of the same metastore on this host, or no abstract sockets): refreshes still hold."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(_address(metastore_url))
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        return cls(sock)

    def fileno(self) -> int:
        return self._socket.fileno()

    def drain(self) -> bool:
        """Read every wake-up waiting; whether there was one."""
        woken = False
        while True:
            try:
                self._socket.recv(16)
            except (BlockingIOError, InterruptedError):
                return woken
            woken = True

    def close(self) -> None:
        self._socket.close()


def wake_scheduler(metastore_url: str) -> None:
    """Ask a scheduler of this metastore on this host to look for new runs now (best effort)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        with contextlib.suppress(OSError):  # nobody listening, or its queue is full: fine
            sock.sendto(b"!", _address(metastore_url))
