"""Looking at processes from tests, through /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie.

    A process can exit between opening its /proc/PID/stat and reading it:
    the read then raises ProcessLookupError, which means it is gone too.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
