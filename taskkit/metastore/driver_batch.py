"""One compiled statement, executed for many rows straight on the database driver.

The scheduler writes two or three task instance changes per try. Through
SQLAlchemy each execute builds an execution context, looks up the compiled
cache and runs every bind processor per row, which cost more than the
database's own work (~60% of a change's CPU on SQLite). A `DriverBatch` compiles
its statement once per dialect, keeps the bind processors SQLAlchemy would run
(so values are stored exactly as the ORM stores them), and hands the driver
ready rows on the connection's own cursor, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@attrs.frozen
class DriverBatch:
    """A statement compiled for one dialect, and how to turn named values into its rows.

    `constant` are the values bound in the statement itself (the expected
    states), already processed; a row's names are the statement's other
    bind parameters.
    """

    sql: str
    positional: bool
    order: tuple[str, ...]
    processors: Mapping[str, Processor]
    constant: Mapping[str, Any]

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: Dialect) -> DriverBatch:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        processors: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            processors[name] = processor or _same
        constant = {
            name: processors[name](bind.effective_value)
            for name, bind in compiled.binds.items()
            if not bind.required
        }
        order = tuple(compiled.positiontup or ()) if compiled.positional else tuple(processors)
        return cls(compiled.string, compiled.positional, order, processors, constant)

    def process(self, name: str, value: Any) -> Any:
        """`value` as the driver takes it for the parameter `name` (for values shared by rows)."""
        return self.processors[name](value)

    def row(self, values: Mapping[str, Any], processed: Mapping[str, Any]) -> Any:
        """One row of parameters: `values` get their bind processor, `processed` are ready."""
        processors = self.processors
        ready = {name: processors[name](value) for name, value in values.items()}
        ready.update(processed)
        ready.update(self.constant)
        if self.positional:
            return tuple(ready[name] for name in self.order)
        return ready

    def execute(self, connection: Connection, rows: Sequence[Any]) -> int:
        """Run the statement for each of `rows` in the connection's transaction; rows matched."""
        cursor = connection.connection.cursor()
        try:
            if len(rows) == 1:
                cursor.execute(self.sql, rows[0])
            else:
                cursor.executemany(self.sql, rows)
            return int(cursor.rowcount)
        finally:
            cursor.close()
