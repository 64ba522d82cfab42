"""Sensors in reschedule mode: when a try's first poke began.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

- task_instance.first_poke_at: set while a reschedule-mode sensor's try
  spans several pokes (state up_for_reschedule between them). Its next poke
  continues that try (the try number does not grow), and the sensor's
  timeout counts from this time; cleared when the try ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the column."""
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("first_poke_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Back to revision 0008: a sensor waiting between pokes starts a new try next time."""
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("first_poke_at")
