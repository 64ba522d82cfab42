"""What the executor, the zygote and the try processes send each other, and how.

- The control socket (executor <-> zygote): length-prefixed pickles (`Channel`)
  of the messages in execution/base.py.
- The result socket (children -> executor, SOCK_SEQPACKET): one datagram per
  message, `RESULT_HEADER` then a chunk of the try's encoded result
  (`encode_result`), or a pool worker's STARTED / REQUEUE note.
- The work socket (executor -> pool workers, SOCK_SEQPACKET): one datagram
  per workload, `WORK` then the encoded workload, taken by a worker holding
  the work lock until it reported it; a spare's pipe: the same,
  once, then end of file.
- The spare socket (zygote -> executor, SOCK_SEQPACKET): `SPARE` with the
  spare's pipe as SCM_RIGHTS.

Kept apart from the zygote (worker.py) so that the executor's side reads as
what it is: a user of this protocol, not of the zygote's loop.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import pickle
import select
import signal
import struct
import time
from typing import Any

import attrs

from taskkit.execution.base import TryFinished
from taskkit.execution.workload import Workload
from taskkit.model.results import TryOutcome, TryResult

#: seq (u64), kind (u8: one of the kinds below), pid (u32), start time (f64).
RESULT_HEADER = struct.Struct("<QBId")
MORE, LAST, STARTED, REQUEUE = 0, 1, 2, 3  # a chunk, the last chunk, or a worker's note
#: A workload for a spare or a pool worker: seq (u64), DAG version (u64), the pickled workload.
WORK = struct.Struct("<QQ")
#: The largest such message; bigger workloads go the fresh-process way.
WORK_MESSAGE_MAX = 64 * 1024
#: On the spare socket (zygote -> executor): a spare's pid (u32), with the write end of the
#: pipe it waits on as SCM_RIGHTS. The executor writes one `WORK` message there and closes it;
#: at most PIPE_BUF bytes, which an empty pipe takes whole at once (larger go in RunTries).
SPARE = struct.Struct("<I")
SPARE_MESSAGE_MAX = select.PIPE_BUF
#: Result messages are cut into chunks that fit any SOCK_SEQPACKET send buffer.
RESULT_CHUNK = 32 * 1024

#: How long past execution_timeout a try may take to fail by itself before it is killed.
TIMEOUT_GRACE_S = 5.0


class Channel:
    """Length-prefixed pickles over one end of a stream socketpair, either way.

    multiprocessing's Connection would do, but importing it pulls tempfile,
    shutil, bz2, lzma and random into the zygote: shared libraries and heap
    that every fork() copies and every child tears down again.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def fileno(self) -> int:
        return self.fd

    def send(self, message: object) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        write_all(self.fd, _LENGTH.pack(len(data)) + data)

    def recv(self) -> Any:
        """The next message, waiting for it; EOFError once the other end is closed."""
        while (message := self._take()) is None:
            chunk = os.read(self.fd, 256 * 1024)
            if not chunk:
                raise EOFError("the other end of the channel was closed")
            self._buffer += chunk
        return pickle.loads(message)

    def poll(self, timeout: float) -> bool:
        """Whether a message (or end of file) can be read within `timeout` seconds."""
        if len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) >= _LENGTH.size + size:
                return True
        return bool(select.select([self.fd], [], [], timeout)[0])

    def close(self) -> None:
        os.close(self.fd)

    def _take(self) -> bytes | None:
        if len(self._buffer) < _LENGTH.size:
            return None
        (size,) = _LENGTH.unpack_from(self._buffer)
        end = _LENGTH.size + size
        if len(self._buffer) < end:
            return None
        message = bytes(self._buffer[_LENGTH.size : end])
        del self._buffer[:end]
        return message


_LENGTH = struct.Struct("!Q")


#: TryResult's fields after `outcome`: a result travels as a tuple of their values.
_RESULT_FIELDS = tuple(field.name for field in attrs.fields(TryResult))[1:]
_result_values = operator.attrgetter(*_RESULT_FIELDS)


def encode_result(result: TryResult) -> bytes:
    """What a try sends back: when it ended, its outcome's value and its result's other fields.

    A tuple of plain values, not the attrs instances: pickling those ran
    attrs' __getstate__ and copyreg in the child, and every page of the
    zygote's that a child writes to is copied: ~100 more page faults
    (~0.4 ms) per try.
    """
    values = (time.time(), result.outcome.value, *_result_values(result))
    return pickle.dumps(values, pickle.HIGHEST_PROTOCOL)


def decode_result(payload: bytes, workload: Workload) -> TryFinished:
    """The TryFinished event of `workload` from what its try sent (`encode_result`).

    Raises whatever a malformed payload raises (the caller fails the try).
    """
    at, outcome, *values = pickle.loads(payload)
    result = TryResult(TryOutcome(outcome), **dict(zip(_RESULT_FIELDS, values, strict=True)))
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    return TryFinished(workload.key, workload.try_number, result, at=when)


def unpack_result_header(message: bytes) -> tuple[int, int, int, float, bytes]:
    """(seq, kind, pid, started_at, chunk) of one result message."""
    seq, kind, pid, started = RESULT_HEADER.unpack_from(message)
    return seq, kind, pid, started, message[RESULT_HEADER.size :]


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def describe_exit(status: int) -> str:
    """How a process ended, from its wait status, in words."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return f"was killed by signal {signal.Signals(signum).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
