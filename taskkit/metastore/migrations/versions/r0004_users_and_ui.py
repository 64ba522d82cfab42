"""Users for the API and UI, and an index for reading a DAG's newest runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

- app_user: who may log in, their role, an argon2 password hash, and the state of the
  failed-login rate limit.
- ix_dag_run_dag_id_logical_date: the grid and the run lists read a DAG's newest runs.
- ix_task_instance_grid: covers the grid's cells, so 25 runs of a 1,000-task DAG are read
  from the index alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create app_user and the run index."""
    op.create_table(
        "app_user",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_app_user")),
    )
    op.create_index("ix_dag_run_dag_id_logical_date", "dag_run", ["dag_id", "logical_date"])
    op.create_index(
        "ix_task_instance_grid",
        "task_instance",
        ["dag_run_id", "task_id", "state", "try_number"],
    )


def downgrade() -> None:
    """Back to revision 0003."""
    op.drop_index("ix_task_instance_grid", table_name="task_instance")
    op.drop_index("ix_dag_run_dag_id_logical_date", table_name="dag_run")
    op.drop_table("app_user")
