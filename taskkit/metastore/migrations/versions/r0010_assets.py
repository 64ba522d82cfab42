"""Assets: data-aware scheduling.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

- asset: every asset a DAG names, as its latest parse declared it.
- asset_reference: which DAG schedules on / produces which asset.
- asset_event: one row per update of an asset (a producing task's success).
- asset_alias_asset: the assets each AssetAlias resolved to.
- asset_dag_queue: per consuming DAG, the assets with events it has not
  consumed yet; a restarted scheduler creates the runs they make due.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the asset tables."""
    op.create_table(
        "asset",
        sa.Column("uri", sa.String(1500), nullable=False),
        sa.Column("name", sa.String(1500), nullable=False),
        sa.Column("group", sa.String(1500), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_asset")),
    )
    op.create_table(
        "asset_reference",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("uri", sa.String(1500), nullable=False),
        sa.Column("use", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name=op.f("fk_asset_reference_dag_id_dag")
        ),
        sa.PrimaryKeyConstraint("dag_id", "uri", "use", name=op.f("pk_asset_reference")),
    )
    op.create_table(
        "asset_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uri", sa.String(1500), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("source_dag_id", sa.String(250), nullable=True),
        sa.Column("source_run_id", sa.String(250), nullable=True),
        sa.Column("source_task_id", sa.String(250), nullable=True),
        sa.Column("source_map_index", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_event")),
    )
    op.create_index("ix_asset_event_uri_id", "asset_event", ["uri", "id"])
    op.create_table(
        "asset_alias_asset",
        sa.Column("alias", sa.String(1500), nullable=False),
        sa.Column("uri", sa.String(1500), nullable=False),
        sa.PrimaryKeyConstraint("alias", "uri", name=op.f("pk_asset_alias_asset")),
    )
    op.create_table(
        "asset_dag_queue",
        sa.Column("target_dag_id", sa.String(250), nullable=False),
        sa.Column("uri", sa.String(1500), nullable=False),
        sa.Column("first_event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_dag_id"], ["dag.dag_id"], name=op.f("fk_asset_dag_queue_target_dag_id_dag")
        ),
        sa.PrimaryKeyConstraint("target_dag_id", "uri", name=op.f("pk_asset_dag_queue")),
    )


def downgrade() -> None:
    """Back to revision 0009: asset events and unconsumed queues are dropped."""
    op.drop_table("asset_dag_queue")
    op.drop_table("asset_alias_asset")
    op.drop_index("ix_asset_event_uri_id", table_name="asset_event")
    op.drop_table("asset_event")
    op.drop_table("asset_reference")
    op.drop_table("asset")
