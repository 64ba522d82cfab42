"""Rendered template fields: what each try rendered, for the UI's panel and the API.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

- rendered_task_instance_fields: one row per try of a task instance (map
  index included), its template fields as a JSON object, written by the
  scheduler with the try's result.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "rendered_task_instance_fields",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("rendered_fields", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            "try_number",
            name="pk_rendered_task_instance_fields",
        ),
    )


def downgrade() -> None:
    """Back to revision 0006: the rendered values are dropped."""
    op.drop_table("rendered_task_instance_fields")
