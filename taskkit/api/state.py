"""What the API's handlers share: settings, metastore, loaded DAGs, token signer, clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import attrs
from fastapi import Request

from taskkit.api.tokens import TokenSigner
from taskkit.config import Settings
from taskkit.metastore import Metastore
from taskkit.services.dag_versions import DagVersions


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@attrs.frozen
class ApiState:
    """One per server process, created at start-up and passed to every handler."""

    config: Settings
    store: Metastore
    versions: DagVersions
    signer: TokenSigner
    clock: Callable[[], dt.datetime] = _utcnow
    #: Seconds between checks for changes on the UI's live (server-sent event) streams.
    live_interval: float = 1.0

    @property
    def logs_folder(self) -> Path:
        """Where task logs live."""
        return self.config.home / "logs"


def api_state(request: Request) -> ApiState:
    """The dependency that hands a handler the server's state."""
    state = request.app.state.taskkit
    assert isinstance(state, ApiState)
    return state
