"""API fixtures: an initialised home with DAGs and users, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import ApiHome, make_home


@pytest.fixture
def api(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHome]:
    """The API over a metastore of each kind, with the ETL and `other` DAGs parsed."""
    home = make_home(tmp_path, db_url, monkeypatch)
    yield home
    home.client.close()
    home.store.dispose()


@pytest.fixture
def api_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHome]:
    """The API over a SQLite metastore only (for tests that run the scheduler)."""
    home = make_home(tmp_path, f"sqlite:///{tmp_path / 'home' / 'taskkit.db'}", monkeypatch)
    yield home
    home.client.close()
    home.store.dispose()
