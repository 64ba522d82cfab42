"""FileSensor: waits until a file (or a non-empty folder) matching a path or glob exists."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring.connections import Connection
from taskkit.authoring.sensor import BaseSensorOperator
from taskkit.errors import ConnectionNotFoundError, InvalidTaskParameterError
from taskkit.triggers.file import FileTrigger, first_match

if TYPE_CHECKING:
    from taskkit.authoring.context import Context

#: Airflow's default filesystem connection; taskkit does not create it, so while it is
#: undefined paths are used as given.
DEFAULT_FS_CONN_ID = "fs_default"


class FileSensor(BaseSensorOperator):
    """Done when `filepath` (a path or a glob, templated) matches a file, or a folder
    holding a file somewhere below it. `recursive=True` lets `**` match nested folders.

    As Airflow's FSHook does, `filepath` is joined to the `path` in the
    `fs_conn_id` connection's extra (an absolute filepath wins). A missing
    connection fails the try with one line naming it; `fs_default`, which
    Airflow creates and taskkit does not, may be left undefined: then a
    relative path is relative to the try's working directory.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("filepath", "fs_conn_id")

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str],
        fs_conn_id: str = DEFAULT_FS_CONN_ID,
        recursive: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"DAG {self.dag.dag_id!r}, task {self.task_id!r}"
        if not isinstance(filepath, (str, os.PathLike)) or not str(filepath):
            raise InvalidTaskParameterError(f"{where}: filepath must be a non-empty path or glob.")
        if not isinstance(fs_conn_id, str) or not fs_conn_id:
            raise InvalidTaskParameterError(f"{where}: fs_conn_id must be a connection id.")
        self.filepath = os.fspath(filepath)
        self.fs_conn_id = fs_conn_id
        self.recursive = self._check_bool("recursive", recursive)
        self.deferrable = self._check_bool("deferrable", deferrable)

    def execute(self, context: Context) -> Any:
        """Poke as any sensor; deferrable, poke once, then defer to a FileTrigger."""
        if not self.deferrable:
            return super().execute(context)
        if not self.poke(context):
            self.defer_to(FileTrigger(self.full_path(), self.recursive, self.poke_interval))
        return None

    def full_path(self) -> str:
        """`filepath` under the base path of the `fs_conn_id` connection (Airflow's FSHook)."""
        try:
            base = Connection.get(self.fs_conn_id).extra_dejson.get("path", "")
        except ConnectionNotFoundError:
            if self.fs_conn_id != DEFAULT_FS_CONN_ID:
                raise
            base = ""
        return os.path.join(str(base), self.filepath)  # noqa: PTH118 -- a glob, not a Path

    def poke(self, context: Context) -> bool:
        pattern = self.full_path()
        print(f"Poking for file {pattern}")
        found = first_match(pattern, self.recursive)
        if found:
            print(f"Found {found}")
        return found is not None
