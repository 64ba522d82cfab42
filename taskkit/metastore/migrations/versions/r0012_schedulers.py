"""Several schedulers on one PostgreSQL metastore.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

- scheduler: one row per scheduler process that ever started, with its
  heartbeat and state (alive, stopped, dead); the others declare it dead when
  its heartbeat is older than scheduler_health_check_threshold.
- dag_run.scheduler_id: the scheduler that owns (holds and writes) an active
  run; NULL while nobody does (new runs, runs released by a dead scheduler).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the scheduler table and give runs an owner."""
    op.create_table(
        "scheduler",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hostname", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler")),
    )
    op.create_index("ix_scheduler_state", "scheduler", ["state"])
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("scheduler_id", sa.Integer(), nullable=True))
        batch.create_index("ix_dag_run_scheduler_id", ["scheduler_id"])


def downgrade() -> None:
    """Drop run ownership and the scheduler table."""
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_index("ix_dag_run_scheduler_id")
        batch.drop_column("scheduler_id")
    op.drop_index("ix_scheduler_state", table_name="scheduler")
    op.drop_table("scheduler")
