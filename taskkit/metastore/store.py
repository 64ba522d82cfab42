"""The Metastore: every read and write of taskkit's database, as verb-noun methods.

Each method is one unit of work (one session, one transaction) and returns
frozen records from `taskkit.metastore.records`; rows never leave this
package, and payloads are never unpickled here. Open it with
`Metastore.open(url)` in the process that uses it (engines do not survive
fork; call `dispose()` in a forked child before use).
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from taskkit.errors import MetastoreError, MetastoreNotInitializedError
from taskkit.metastore.assets import AssetMethods
from taskkit.metastore.clearing import ClearMethods
from taskkit.metastore.dags import DagMethods
from taskkit.metastore.engine import create_engine_for
from taskkit.metastore.marking import MarkMethods
from taskkit.metastore.pools import PoolMethods
from taskkit.metastore.rendered import RenderedFieldsMethods
from taskkit.metastore.runs import RunMethods
from taskkit.metastore.schedulers import SchedulerMethods
from taskkit.metastore.secrets import SecretMethods
from taskkit.metastore.tables import SCHEMA_REVISION, current_revision
from taskkit.metastore.task_instances import TaskInstanceMethods
from taskkit.metastore.triggers import TriggerMethods
from taskkit.metastore.users import UserMethods
from taskkit.metastore.views import ViewMethods
from taskkit.metastore.workers import WorkerMethods
from taskkit.metastore.xcoms import XComMethods


class Metastore(
    PoolMethods,
    DagMethods,
    RunMethods,
    TaskInstanceMethods,
    XComMethods,
    RenderedFieldsMethods,
    ClearMethods,
    MarkMethods,
    UserMethods,
    ViewMethods,
    WorkerMethods,
    SecretMethods,
    AssetMethods,
    TriggerMethods,
    SchedulerMethods,
):
    """taskkit's database. One instance per process; methods are safe across threads."""

    @classmethod
    def open(cls, url: str | URL, *, check_schema: bool = True) -> Metastore:
        """Connect and check (once) that the schema is at this code's revision.

        Raises MetastoreNotInitializedError telling the user to run
        `taskkit db init` (no schema) or `taskkit db upgrade` (older schema).
        """
        engine = create_engine_for(url)
        store = cls(engine)
        if check_schema:
            try:
                store.check_schema()
            except BaseException:
                engine.dispose()
                raise
        return store

    def check_schema(self) -> None:
        """Raise MetastoreNotInitializedError unless the schema is at SCHEMA_REVISION."""
        where = self._engine.url.render_as_string(hide_password=True)
        try:
            with self._engine.connect() as connection:
                revision = current_revision(connection)
        except SQLAlchemyError as exc:
            raise MetastoreError(
                f"Cannot reach the metastore at {where}: {str(exc).splitlines()[0]}"
            ) from exc
        if revision is None:
            raise MetastoreNotInitializedError(
                f"The metastore at {where} is not initialised: run `taskkit db init`."
            )
        if revision != SCHEMA_REVISION:
            raise MetastoreNotInitializedError(
                f"The metastore at {where} has schema revision {revision!r}, but this taskkit "
                f"needs {SCHEMA_REVISION!r}: run `taskkit db upgrade`."
            )

    def dispose(self) -> None:
        """Close pooled connections; call it in a forked child or when done."""
        self._engine.dispose()

    def __enter__(self) -> Metastore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()
