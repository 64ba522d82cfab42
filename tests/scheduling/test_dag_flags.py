"""The scheduler's DAG flags: read in full once a minute, otherwise only what was stamped since."""

from __future__ import annotations

import datetime as dt

import attrs

from taskkit.metastore.records import DagFlags
from taskkit.scheduling.dag_flags import FULL_READ_EVERY, LATE_COMMIT_MARGIN, DagFlagBook

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@attrs.define
class _Store:
    """Answers list_dag_flags from `rows`, keeping the `changed_since` of each call."""

    rows: list[DagFlags]
    asked: list[dt.datetime | None] = attrs.Factory(list)

    def list_dag_flags(self, changed_since: dt.datetime | None = None) -> list[DagFlags]:
        self.asked.append(changed_since)
        return list(self.rows)


def _flags(dag_id: str, *, paused: bool = False, version: int = 1) -> DagFlags:
    return DagFlags(dag_id, True, paused, version, None)


def test_first_refresh_reads_everything_and_reports_every_dag() -> None:
    store = _Store([_flags("a"), _flags("b", paused=True)])
    book = DagFlagBook()

    changed = book.refresh(store, T0)

    assert changed == {"a", "b"}
    assert book.paused == {"b"}
    assert store.asked == [None]


def test_later_refreshes_read_rows_stamped_since_the_last_read_and_report_real_changes() -> None:
    """Unchanged rows read again (inside the late-commit margin) are not reported; a pause is."""
    store = _Store([_flags("a"), _flags("b")])
    book = DagFlagBook()
    book.refresh(store, T0)

    store.rows = [_flags("a"), _flags("b", paused=True)]
    changed = book.refresh(store, T0 + dt.timedelta(seconds=1))

    assert changed == {"b"}
    assert book.paused == {"b"}
    assert store.asked[-1] == T0 - LATE_COMMIT_MARGIN

    store.rows = [_flags("b", paused=False, version=2)]
    changed = book.refresh(store, T0 + dt.timedelta(seconds=2))
    assert changed == {"b"} and book.paused == set()
    assert book.flags["b"].current_version_id == 2 and book.flags["a"] == _flags("a")


def test_a_full_read_comes_back_once_a_minute() -> None:
    store = _Store([_flags("a")])
    book = DagFlagBook()
    book.refresh(store, T0)
    book.refresh(store, T0 + FULL_READ_EVERY / 2)
    book.refresh(store, T0 + FULL_READ_EVERY)

    assert store.asked[0] is None and store.asked[1] is not None and store.asked[2] is None


def test_max_active_runs_of_an_unknown_dag_is_none() -> None:
    book = DagFlagBook()
    book.refresh(_Store([DagFlags("a", True, False, 1, 3)]), T0)
    assert book.max_active_runs("a") == 3
    assert book.max_active_runs("ghost") is None
