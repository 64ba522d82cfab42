"""What a Celery worker says about itself, and how old that news may be before it is "lost"."""

from __future__ import annotations

import datetime as dt
import enum

import attrs


class WorkerState(str, enum.Enum):
    """A worker's state as shown to operators."""

    ONLINE = "online"  #: worker: taking and running tries
    STOPPING = "stopping"  #: worker: shutting down, finishing the tries it holds
    STOPPED = "stopped"  #: worker: exited cleanly
    LOST = "lost"  #: reader: no heartbeat for longer than the threshold (killed, hung, cut off)


@attrs.frozen
class RunningTry:
    """One try a worker holds."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int

    def __str__(self) -> str:
        return f"{self.dag_id}/{self.run_id}/{self.task_id}#{self.try_number}"


@attrs.frozen
class WorkerReport:
    """A worker's last heartbeat: who it is, what it listens to and what it runs."""

    name: str  #: the Celery node name, unique per worker process (taskkit-PID@host)
    hostname: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int  #: tries it may run at once now (the pool's current size)
    autoscale: str | None  #: "max,min" when Celery's autoscaler sizes the pool
    running: tuple[RunningTry, ...]
    state: WorkerState
    started_at: dt.datetime
    last_heartbeat: dt.datetime

    def status(self, now: dt.datetime, lost_after_s: float) -> WorkerState:
        """Its state, or LOST when a worker that did not stop has been silent too long."""
        if self.state is WorkerState.STOPPED:
            return WorkerState.STOPPED
        if (now - self.last_heartbeat).total_seconds() > lost_after_s:
            return WorkerState.LOST
        return self.state
