"""DAGs, their serialized versions and the import errors of the files they come from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from taskkit.errors import DagNotFoundError, NotFoundError
from taskkit.metastore.records import (
    DagFlags,
    DagRecord,
    DagVersionRecord,
    ImportErrorRecord,
    SavedVersion,
)
from taskkit.metastore.tables import DagRow, DagVersionRow, ImportErrorRow
from taskkit.metastore.units import UnitOfWork, rowcount, upsert_insert

_DAG_COLUMNS = tuple(DagRow.__table__.c)
_VERSION_COLUMNS = tuple(DagVersionRow.__table__.c)
_FLAG_COLUMNS = (
    DagRow.dag_id,
    DagRow.is_active,
    DagRow.is_paused,
    DagRow.current_version_id,
    DagRow.max_active_runs,
)


def _no_dag(dag_id: str) -> DagNotFoundError:
    return DagNotFoundError(f"No DAG {dag_id!r}. Run `taskkit dags list` to see the known DAGs.")


class DagMethods(UnitOfWork):
    """DAG rows, versions and import errors."""

    def save_dag_version(
        self,
        dag_id: str,
        fileloc: str,
        payload: bytes,
        content_hash: str,
        signature: str,
        *,
        spec: tuple[bytes, str] | None = None,
        schedule_desc: str | None = None,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        description: str | None = None,
        tags: Sequence[str] = (),
        paused_at_creation: bool = False,
        next_run: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> SavedVersion:
        """Record a parsed DAG: upsert its row and make the version with this hash current.

        A new version is stored only when no version of the DAG has this hash;
        going back to an earlier hash makes that earlier version current again.
        `spec` is the pickled DagSpec alone and its signature; an existing version
        without one (stored before revision 0013) gets it.
        A new DAG starts paused iff `paused_at_creation`; an existing DAG keeps
        its pause flag and is marked active. `next_run` is the (logical date,
        run after) of its next scheduled run, None when there will be none.
        """
        now = self._now()
        with self._write() as session:
            # Insert-if-missing then lock the row, so concurrent saves of one DAG
            # (two parsers on PostgreSQL) take turns instead of colliding.
            session.execute(
                upsert_insert(session, DagRow)
                .values(
                    dag_id=dag_id,
                    fileloc=fileloc,
                    is_active=True,
                    is_paused=paused_at_creation,
                    tags=[],
                    updated_at=now,
                )
                .on_conflict_do_nothing()
            )
            dag = session.execute(
                select(DagRow).where(DagRow.dag_id == dag_id).with_for_update()
            ).scalar_one()
            dag.fileloc = fileloc
            dag.is_active = True
            dag.schedule = schedule_desc
            dag.max_active_runs = max_active_runs
            dag.max_active_tasks = max_active_tasks
            dag.description = description
            dag.tags = list(tags)
            dag.next_run, dag.next_run_after = next_run or (None, None)
            dag.updated_at = now
            session.flush()
            found = session.execute(
                select(
                    DagVersionRow.id,
                    DagVersionRow.version_number,
                    DagVersionRow.signature,
                    DagVersionRow.spec_signature,
                ).where(DagVersionRow.dag_id == dag_id, DagVersionRow.content_hash == content_hash)
            ).first()
            if found is not None:
                dag.current_version_id = found.id
                changes: dict[str, object] = {}
                if found.signature != signature:
                    # The secret key changed (or the row was altered): this parse produced
                    # exactly the bytes with this hash, so store them signed with today's key.
                    changes.update(payload=payload, signature=signature)
                if changes or (spec is not None and found.spec_signature is None):
                    # Stored before revision 0013, or re-signed with the payload (a spec
                    # signed with another key would never load).
                    spec_bytes, spec_signature = spec or (None, None)
                    changes.update(spec=spec_bytes, spec_signature=spec_signature)
                if changes:
                    session.execute(
                        update(DagVersionRow).where(DagVersionRow.id == found.id).values(changes)
                    )
                return SavedVersion(found.id, found.version_number, created=False)
            latest = session.execute(
                select(func.max(DagVersionRow.version_number)).where(DagVersionRow.dag_id == dag_id)
            ).scalar()
            version = DagVersionRow(
                dag_id=dag_id,
                version_number=(latest or 0) + 1,
                content_hash=content_hash,
                signature=signature,
                payload=payload,
                fileloc=fileloc,
                created_at=now,
                spec=spec and spec[0],
                spec_signature=spec and spec[1],
            )
            session.add(version)
            session.flush()
            dag.current_version_id = version.id
            return SavedVersion(version.id, version.version_number, created=True)

    def deactivate_missing_dags(
        self,
        present_dag_ids: Collection[str],
        *,
        keep_files: Collection[str] = (),
        within: str | None = None,
    ) -> list[str]:
        """Mark active DAGs not in `present_dag_ids` inactive; returns their ids.

        DAGs whose file is in `keep_files` (files that failed to import this
        time) stay active, so a typo does not make a DAG vanish. With `within`
        (the folder just parsed), only DAGs whose file lies under it are
        considered: parsing one folder never deactivates another folder's DAGs.
        """
        prefix = None if within is None else within.rstrip("/") + "/"
        with self._write() as session:
            query = select(DagRow.dag_id).where(DagRow.is_active.is_(True))
            gone = [
                dag_id
                for dag_id, fileloc in session.execute(query.add_columns(DagRow.fileloc))
                if dag_id not in present_dag_ids
                and fileloc not in keep_files
                and (prefix is None or fileloc.startswith(prefix))
            ]
            if gone:
                session.execute(
                    update(DagRow)
                    .where(DagRow.dag_id.in_(gone))
                    .values(is_active=False, updated_at=self._now())
                )
        return sorted(gone)

    def list_dags(self, *, include_inactive: bool = False) -> list[DagRecord]:
        """Known DAGs ordered by dag_id; inactive ones (file gone) only on request."""
        query = select(*_DAG_COLUMNS).order_by(DagRow.dag_id)
        if not include_inactive:
            query = query.where(DagRow.is_active.is_(True))
        with self._read() as session:
            return [DagRecord(**row._asdict()) for row in session.execute(query)]

    def list_dag_flags(self, changed_since: dt.datetime | None = None) -> list[DagFlags]:
        """DAGs' active and paused flags, current version and run limit, by dag_id.

        The scheduler calls this twice a second, so it reads no timestamps or JSON;
        with `changed_since`, only the DAGs whose row was stamped at or after it.
        """
        query = select(*_FLAG_COLUMNS).order_by(DagRow.dag_id)
        if changed_since is not None:
            query = query.where(DagRow.updated_at >= changed_since)
        with self._read() as session:
            return [DagFlags(*row) for row in session.execute(query)]

    def get_dag(self, dag_id: str) -> DagRecord:
        """One DAG's record; raises DagNotFoundError if the id was never seen."""
        with self._read() as session:
            row = session.execute(select(*_DAG_COLUMNS).where(DagRow.dag_id == dag_id)).first()
        if row is None:
            raise _no_dag(dag_id)
        return DagRecord(**row._asdict())

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG; raises DagNotFoundError for an unknown id."""
        with self._write() as session:
            changed = rowcount(
                session.execute(
                    update(DagRow)
                    .where(DagRow.dag_id == dag_id)
                    .values(is_paused=paused, updated_at=self._now())
                )
            )
        if not changed:
            raise _no_dag(dag_id)

    def set_next_run(
        self,
        dag_id: str,
        next_run: dt.datetime | None,
        next_run_after: dt.datetime | None = None,
    ) -> None:
        """Record the DAG's next scheduled run: its logical date and when it may be created.

        None means there will be none (no schedule, past end_date, "@once" done).
        """
        with self._write() as session:
            changed = rowcount(
                session.execute(
                    update(DagRow)
                    .where(DagRow.dag_id == dag_id)
                    .values(next_run=next_run, next_run_after=next_run_after)
                )
            )
        if not changed:
            raise _no_dag(dag_id)

    def get_dag_version(self, version_id: int) -> DagVersionRecord:
        """A stored version with its payload and signature; the store never unpickles it."""
        with self._read() as session:
            row = session.execute(
                select(*_VERSION_COLUMNS).where(DagVersionRow.id == version_id)
            ).first()
        if row is None:
            raise NotFoundError(f"No DAG version with id {version_id}.")
        return DagVersionRecord(**row._asdict())

    def get_current_dag_version(self, dag_id: str) -> DagVersionRecord:
        """The DAG's current version; raises DagNotFoundError if it has none."""
        dag = self.get_dag(dag_id)
        if dag.current_version_id is None:
            raise _no_dag(dag_id)
        return self.get_dag_version(dag.current_version_id)

    def replace_import_errors(
        self,
        errors: Mapping[str, tuple[int | None, str]],
        *,
        parsed_files: Collection[str],
        all_files: Collection[str] | None = None,
    ) -> None:
        """Make the stored import errors match this parse, in one transaction.

        Errors of every file in `parsed_files` (or in `errors`) are replaced by
        `errors`; with `all_files`, errors of files no longer there are removed.
        """
        files = set(parsed_files) | set(errors)
        now = self._now()
        with self._write() as session:
            condition: ColumnElement[bool] = ImportErrorRow.fileloc.in_(files)
            if all_files is not None:
                condition = or_(condition, ImportErrorRow.fileloc.not_in(set(all_files)))
            session.execute(delete(ImportErrorRow).where(condition))
            session.add_all(
                ImportErrorRow(fileloc=file, line=line, message=message, created_at=now)
                for file, (line, message) in sorted(errors.items())
            )

    def list_import_errors(self) -> list[ImportErrorRecord]:
        """Files that failed at their last parse, by file name."""
        query = select(
            ImportErrorRow.fileloc,
            ImportErrorRow.line,
            ImportErrorRow.message,
            ImportErrorRow.created_at,
        ).order_by(ImportErrorRow.fileloc, ImportErrorRow.id)
        with self._read() as session:
            return [ImportErrorRecord(**row._asdict()) for row in session.execute(query)]
