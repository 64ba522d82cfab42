"""Health: the metastore answers, and a scheduler is alive exactly while it holds the lease."""

from __future__ import annotations

from pathlib import Path

from taskkit.config import load_settings
from taskkit.metastore import Metastore
from taskkit.metastore.lease import scheduler_lease
from taskkit.services.health import check_health


def test_a_scheduler_is_seen_while_it_holds_the_lease(metastore: Metastore, tmp_path: Path) -> None:
    """Without a scheduler health is unhealthy; while one holds the lease it is healthy."""
    config = load_settings(environ={"TASKKIT_HOME": str(tmp_path)})
    before = check_health(metastore, config)
    assert before.metastore_ok
    assert not before.scheduler_alive
    assert before.status == "unhealthy"
    with scheduler_lease(metastore.engine):
        during = check_health(metastore, config)
    assert during.scheduler_alive, during.scheduler_detail
    assert during.status == "healthy"
