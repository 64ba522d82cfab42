"""Deferral: triggers, how a deferred try resumes, and pools that count deferred tasks.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

- trigger: one row per deferred task instance: the trigger's class path and
  keyword arguments (written by the scheduler), and its first event or error
  (written by the triggerer when it fires).
- task_instance.next_method / next_kwargs: how the deferred try resumes.
- pool.include_deferred: whether deferred task instances hold the pool's slots.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the trigger table and the columns."""
    op.create_table(
        "trigger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("classpath", sa.String(1000), nullable=False),
        sa.Column("kwargs", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger")),
    )
    op.create_index("ix_trigger_fired_at", "trigger", ["fired_at"])
    op.create_index(
        "uq_trigger_task_instance",
        "trigger",
        ["dag_id", "run_id", "task_id", "map_index"],
        unique=True,
    )
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("next_method", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("next_kwargs", sa.Text(), nullable=True))
    with op.batch_alter_table("pool") as batch:
        batch.add_column(
            sa.Column("include_deferred", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Back to revision 0010: deferred tasks are lost (clear them first)."""
    with op.batch_alter_table("pool") as batch:
        batch.drop_column("include_deferred")
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("next_kwargs")
        batch.drop_column("next_method")
    op.drop_index("uq_trigger_task_instance", table_name="trigger")
    op.drop_index("ix_trigger_fired_at", table_name="trigger")
    op.drop_table("trigger")
