"""Time-based scheduling: when the next run is due, backfill limits, one run per interval.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

- dag.next_run_after: when the next scheduled run may be created (next_run is its
  logical date, the start of its interval).
- dag_run.max_active_runs: a backfill's own cap on its running runs.
- One scheduled *or backfill* run per DAG and logical date (was: scheduled only), so a
  backfill never duplicates an interval the scheduler already ran, nor the reverse.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_SCHEDULED_ONLY = sa.text("run_type = 'scheduled'")
_INTERVAL_RUNS = sa.text("run_type IN ('scheduled', 'backfill')")


def upgrade() -> None:
    """Add the two columns and widen the one-run-per-interval index to backfills."""
    with op.batch_alter_table("dag") as batch:
        batch.add_column(sa.Column("next_run_after", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("max_active_runs", sa.Integer(), nullable=True))
    op.drop_index("uq_dag_run_scheduled_logical_date", table_name="dag_run")
    op.create_index(
        "uq_dag_run_interval_logical_date",
        "dag_run",
        ["dag_id", "logical_date"],
        unique=True,
        sqlite_where=_INTERVAL_RUNS,
        postgresql_where=_INTERVAL_RUNS,
    )


def downgrade() -> None:
    """Back to revision 0001."""
    op.drop_index("uq_dag_run_interval_logical_date", table_name="dag_run")
    op.create_index(
        "uq_dag_run_scheduled_logical_date",
        "dag_run",
        ["dag_id", "logical_date"],
        unique=True,
        sqlite_where=_SCHEDULED_ONLY,
        postgresql_where=_SCHEDULED_ONLY,
    )
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("max_active_runs")
    with op.batch_alter_table("dag") as batch:
        batch.drop_column("next_run_after")
