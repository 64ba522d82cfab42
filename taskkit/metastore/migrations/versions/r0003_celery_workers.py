"""Celery worker health: each worker's last heartbeat, for `taskkit celery workers`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the celery_worker table."""
    op.create_table(
        "celery_worker",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("hostname", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("autoscale", sa.String(32), nullable=True),
        sa.Column("running", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_celery_worker")),
    )


def downgrade() -> None:
    """Back to revision 0002."""
    op.drop_table("celery_worker")
