"""Mapping details: task_instance.rendered_map_index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

- task_instance.rendered_map_index: a mapped instance's map_index_template as
  its last try rendered it (Airflow's column and field name).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the column."""
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("rendered_map_index", sa.Text(), nullable=True))


def downgrade() -> None:
    """Back to revision 0005: rendered names are dropped."""
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("rendered_map_index")
