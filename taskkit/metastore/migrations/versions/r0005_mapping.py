"""Dynamic task mapping: a map_index on task instances and XComs, and XCom lengths.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

- task_instance.map_index and xcom.map_index (-1 when not mapped), part of
  both primary keys: a mapped task has one row per instance.
- xcom.length: the length of a pushed list, tuple or dict, so a restarted
  scheduler can expand a mapped task without decoding the value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TI_KEY = ["dag_id", "run_id", "task_id"]
_XCOM_KEY = ["dag_id", "run_id", "task_id"]


def _map_index() -> sa.Column[int]:
    return sa.Column("map_index", sa.Integer(), server_default=sa.text("-1"), nullable=False)


def upgrade() -> None:
    """Add the columns and widen the two primary keys."""
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(_map_index())
        batch.drop_constraint("pk_task_instance", type_="primary")
        batch.create_primary_key("pk_task_instance", [*_TI_KEY, "map_index"])
    with op.batch_alter_table("xcom") as batch:
        batch.add_column(_map_index())
        batch.add_column(sa.Column("length", sa.Integer(), nullable=True))
        batch.drop_constraint("pk_xcom", type_="primary")
        batch.create_primary_key("pk_xcom", [*_XCOM_KEY, "map_index", "key"])


def downgrade() -> None:
    """Back to revision 0003: instances of mapped tasks are dropped."""
    op.execute("DELETE FROM task_instance WHERE map_index >= 0")
    op.execute("DELETE FROM xcom WHERE map_index >= 0")
    with op.batch_alter_table("xcom") as batch:
        batch.drop_constraint("pk_xcom", type_="primary")
        batch.create_primary_key("pk_xcom", [*_XCOM_KEY, "key"])
        batch.drop_column("length")
        batch.drop_column("map_index")
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_constraint("pk_task_instance", type_="primary")
        batch.create_primary_key("pk_task_instance", _TI_KEY)
        batch.drop_column("map_index")
