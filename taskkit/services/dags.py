"""DAGs: the filtered, paged list; pausing; import errors; one DAG's details and source."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from taskkit.errors import InvalidInputError
from taskkit.scheduling.dag_processor import sync_dags_folder
from taskkit.services.dag_versions import secret_key

if TYPE_CHECKING:
    from taskkit.config import Settings
    from taskkit.metastore import DagRecord, ImportErrorRecord, Metastore, RunRecord

#: How many recent runs the DAG list shows per DAG.
RECENT_RUNS = 10
MAX_PAGE = 1000
#: A DAG id or run id meaning "every one", as in Airflow's REST API (`/dags/~/dagRuns`).
EVERY = "~"


@attrs.frozen
class Page:
    """Which slice of a list to return."""

    limit: int = 100
    offset: int = 0

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}, not {self.limit}.")
        if self.offset < 0:
            raise InvalidInputError(f"offset must be 0 or more, not {self.offset}.")


@attrs.frozen
class DagFilter:
    """What the DAG list is narrowed to: a substring of the id, tags (all of them), paused."""

    search: str | None = None
    tags: tuple[str, ...] = ()
    paused: bool | None = None

    def keeps(self, dag: DagRecord) -> bool:
        """True if `dag` passes every given condition."""
        if self.search and self.search.lower() not in dag.dag_id.lower():
            return False
        if self.paused is not None and dag.is_paused != self.paused:
            return False
        return all(tag in dag.tags for tag in self.tags)


#: Airflow's `order_by` names for the DAG list, and the column of the DAG each sorts by.
DAG_ORDER_FIELDS: Mapping[str, Callable[[DagRecord], object]] = {
    "dag_id": operator.attrgetter("dag_id"),
    "dag_display_name": operator.attrgetter("dag_id"),  # the metastore keeps no display name
    "next_dagrun": operator.attrgetter("next_run"),
    "next_dagrun_logical_date": operator.attrgetter("next_run"),
    "next_dagrun_run_after": operator.attrgetter("next_run_after"),
    "is_paused": operator.attrgetter("is_paused"),
    "fileloc": operator.attrgetter("fileloc"),
}


@attrs.frozen
class DagOrder:
    """How the DAG list is sorted: by one of DAG_ORDER_FIELDS, ties by dag_id."""

    field: str = "dag_id"
    descending: bool = False

    @classmethod
    def parse(cls, order_by: str | None) -> DagOrder:
        """Airflow's `order_by` (`-` first: descending); by dag_id for None.

        Raises InvalidInputError, listing the names, for one it does not know.
        """
        if order_by is None:
            return cls()
        field = order_by.removeprefix("-")
        if field not in DAG_ORDER_FIELDS:
            raise InvalidInputError(
                f"Cannot order DAGs by {order_by!r}: use one of {', '.join(DAG_ORDER_FIELDS)}, "
                "with a leading '-' for descending (e.g. order_by=-next_dagrun)."
            )
        return cls(field, descending=order_by.startswith("-"))

    def sorted(self, dags: list[DagRecord]) -> list[DagRecord]:
        """`dags` in this order; those without a value (no next run) last either way."""
        value = DAG_ORDER_FIELDS[self.field]
        known = [d for d in dags if value(d) is not None]
        unknown = [d for d in dags if value(d) is None]
        known.sort(key=lambda d: (value(d), d.dag_id), reverse=self.descending)
        return known + sorted(unknown, key=lambda d: d.dag_id, reverse=self.descending)


@attrs.frozen
class DagSummary:
    """A DAG in the list: its record and its newest runs (newest first)."""

    dag: DagRecord
    recent_runs: tuple[RunRecord, ...]

    @property
    def last_run(self) -> RunRecord | None:
        """The newest run, if any."""
        return self.recent_runs[0] if self.recent_runs else None


@attrs.frozen
class DagList:
    """One page of DAGs, how many match in all, and every tag in use."""

    dags: tuple[DagSummary, ...]
    total_entries: int
    all_tags: tuple[str, ...]


def list_dags(
    store: Metastore,
    where: DagFilter = DagFilter(),
    page: Page = Page(),
    *,
    recent: int = RECENT_RUNS,
    order: DagOrder = DagOrder(),
) -> DagList:
    """Active DAGs in `order` (by id unless asked), filtered then paged, each with its
    `recent` newest runs."""
    every = store.list_dags()
    kept = order.sorted([d for d in every if where.keeps(d)])
    chosen = kept[page.offset : page.offset + page.limit]
    runs = store.recent_runs([d.dag_id for d in chosen], recent) if recent else {}
    tags = sorted({tag for d in every for tag in d.tags})
    return DagList(
        tuple(DagSummary(d, tuple(runs.get(d.dag_id, ()))) for d in chosen),
        len(kept),
        tuple(tags),
    )


def set_paused(store: Metastore, dag_id: str, paused: bool) -> DagRecord:
    """Pause or unpause a DAG and return it as it now is."""
    store.set_paused(dag_id, paused)
    return store.get_dag(dag_id)


def import_errors(store: Metastore) -> Sequence[ImportErrorRecord]:
    """Files that failed at their last parse."""
    return store.list_import_errors()


def sync_folder(store: Metastore, config: Settings) -> None:
    """Parse the DAGs folder now and store what it holds (new files show up)."""
    sync_dags_folder(store, config, secret_key(config))


def read_source(fileloc: str, *, limit: int = 512 * 1024) -> str:
    """A DAG file's text for the UI (its first `limit` bytes), or why it cannot be read."""
    path = Path(fileloc)
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        return f"# cannot read {fileloc}: {exc.strerror}"
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n# ... (file truncated)" if len(data) > limit else "")


def next_run_text(dag: DagRecord, now: dt.datetime) -> str:
    """The next scheduled run as people read it, e.g. '2026-01-02 00:00 (in 3 h)'."""
    if dag.next_run is None:
        return "-"
    when = dag.next_run_after or dag.next_run
    delta = when - now
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        rel = "due"
    elif seconds < 3600:
        rel = f"in {seconds // 60} min"
    elif seconds < 86400:
        rel = f"in {seconds // 3600} h"
    else:
        rel = f"in {seconds // 86400} d"
    return f"{dag.next_run:%Y-%m-%d %H:%M} ({rel})"
